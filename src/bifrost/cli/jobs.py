"""Following a background job from a terminal until it finishes.

Live events come from the job's channel on `/api/ws`; the record from ``GET /api/jobs/{id}`` is
the truth. The record is read once after subscribing (the job may have finished before), again
whenever the channel stays quiet (an event may be lost) and after ``done`` (the runner writes the
record first). Without a WebSocket the record is polled and its last progress shown instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bifrost.cli.client import err, request
from bifrost.cli.events import subscribed
from bifrost.names import UNFINISHED_JOBS

QUIET_CHECK_S = 2.0  # re-read the record after this long without an event
POLL_S = 0.5

Show = Callable[[dict[str, Any]], None]


def record(job_id: str) -> dict[str, Any]:
    return request("GET", f"/api/jobs/{job_id}").json()


def finished(job: dict[str, Any]) -> bool:
    return job["status"] not in UNFINISHED_JOBS


def follow(job_id: str, channel: str, show: Show) -> dict[str, Any]:
    """Pass every event of the job to ``show`` and return its finished record."""
    job = _live(job_id, channel, show)
    return job if job is not None else _poll(job_id, show)


def _live(job_id: str, channel: str, show: Show) -> dict[str, Any] | None:
    """The finished record, or None when the WebSocket failed (the caller polls instead)."""
    try:
        with subscribed(channel) as events:
            job = record(job_id)
            while not finished(job):
                event = events.next(QUIET_CHECK_S)
                if event is not None:
                    show(event)
                if event is None or event.get("type") == "done":
                    job = record(job_id)
            return job
    except Exception as exc:
        from websockets.exceptions import WebSocketException

        if not isinstance(exc, OSError | ValueError | WebSocketException):
            raise
        err.print(f"[dim]no live progress ({type(exc).__name__}); polling the job instead[/]")
        return None


def _poll(job_id: str, show: Show) -> dict[str, Any]:
    shown = None
    while True:
        job = record(job_id)
        if job.get("progress") and job["progress"] != shown:
            shown = job["progress"]
            show({"type": "progress", **shown})
        if finished(job):
            return job
        time.sleep(POLL_S)
