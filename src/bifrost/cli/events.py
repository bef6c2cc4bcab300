"""A job's live events for client commands: one subscription to `/api/ws`, read with timeouts.

``bifrost packages add`` prints its installer's output from here and ``bifrost github sync`` draws
its progress bars from here; both treat the channel as best effort (the job's record, from
``GET /api/jobs/{id}``, is the truth), so a caller catches ``Exception`` around it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bifrost.cli.client import ClientConfig

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

SUBSCRIBE_TIMEOUT_S = 5.0


class Channel:
    """The events of one subscribed channel, one at a time."""

    def __init__(self, ws: ClientConnection, early: list[dict[str, Any]]) -> None:
        self._ws = ws
        self._early = early

    def next(self, timeout_s: float) -> dict[str, Any] | None:
        """The next event (``{"type": ...}``), or None when none came within ``timeout_s``."""
        if self._early:
            return self._early.pop(0)
        try:
            message = json.loads(self._ws.recv(timeout=timeout_s))
        except TimeoutError:
            return None
        return message.get("event")


@contextlib.contextmanager
def subscribed(channel: str) -> Iterator[Channel]:
    """Open `/api/ws` with the CLI's token (in the header, never the URL), subscribe to
    ``channel`` and return once the server confirmed it, so no later event is missed."""
    from websockets.sync.client import connect

    config = ClientConfig.from_env()
    base = config.base_url.replace("http", "ws", 1)
    headers = {"Authorization": f"Bearer {config.token or ''}"}
    with connect(f"{base}/api/ws", additional_headers=headers) as ws:
        ws.send(json.dumps({"subscribe": channel}))
        early: list[dict[str, Any]] = []  # the server may forward an event before its answer
        while True:
            answer = json.loads(ws.recv(timeout=SUBSCRIBE_TIMEOUT_S))
            if "event" in answer:
                early.append(answer["event"])
            elif answer.get("subscribed") == channel:
                break
            else:
                raise ConnectionError(answer.get("error") or f"not subscribed to {channel}")
        yield Channel(ws, early)
