"""The CLI's HTTP client: where the API is, which token to send, and errors printed for people.

A client command must start fast (well under 0.3 s), so this module imports no server code (no
SQLAlchemy, SAQ, redis or FastAPI), not even pydantic or httpx (each costs more than the whole
rest of a command): it reads the few ``BIFROST_*`` variables it needs straight from the
environment, with the defaults of :class:`bifrost.settings.Settings` (a test keeps the two in
step), and speaks HTTP with ``urllib.request``.
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlencode

from rich.console import Console

err = Console(stderr=True)

DEFAULT_DATA_DIR = ".bifrost"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
TOKEN_FILE = "admin-token"  # in the data directory, written by `bifrost init`


def token_file(data_dir: Path) -> Path:
    return data_dir.resolve() / TOKEN_FILE


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    token: str | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ClientConfig:
        """``BIFROST_API_URL`` (else ``http://BIFROST_HOST:BIFROST_PORT``); the token from
        ``BIFROST_ADMIN_TOKEN``, else from the token file ``bifrost init`` saved on this machine."""

        def env(name: str) -> str | None:
            return environ.get(f"BIFROST_{name}") or None  # empty counts as unset, as in Settings

        token = env("ADMIN_TOKEN")
        if token is None:
            path = token_file(Path(env("DATA_DIR") or DEFAULT_DATA_DIR))
            if path.exists():
                token = path.read_text().strip() or None
        base = (
            env("API_URL") or f"http://{env('HOST') or DEFAULT_HOST}:{env('PORT') or DEFAULT_PORT}"
        )
        return cls(base.rstrip("/"), token)


@dataclass(frozen=True)
class Response:
    status: int
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


def request(
    method: str,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    json_body: Any = None,
    content: bytes | None = None,
) -> Response:
    """One API call; an error answer or an unreachable API ends the command with its message."""
    config = ClientConfig.from_env()
    if not config.token:
        err.print("[red]no token[/]: set BIFROST_ADMIN_TOKEN or run `bifrost init` on this machine")
        raise SystemExit(2)
    headers = {"Authorization": f"Bearer {config.token}"}
    if json_body is not None:
        content = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    elif content is not None:  # raw bytes, not the form encoding urllib would assume
        headers["Content-Type"] = "application/octet-stream"
    target = config.base_url + url + (f"?{urlencode(params)}" if params else "")
    sent = urllib.request.Request(target, data=content, headers=headers, method=method)
    try:
        with urllib.request.urlopen(sent) as answer:
            return Response(answer.status, answer.read())
    except urllib.error.HTTPError as exc:
        _refused(exc.code, exc.read())
    except (OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        err.print(f"[red]cannot reach the API[/] ({reason}); is `bifrost up` running?")
        raise SystemExit(1) from exc


def items(url: str, params: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """Every item of a paged listing, following ``next_cursor`` one page at a time to the end."""
    query = dict(params or {})
    while True:
        page = request("GET", url, params=query).json()
        yield from page["items"]
        if page["next_cursor"] is None:
            return
        query["cursor"] = page["next_cursor"]


def _refused(status: int, body: bytes) -> NoReturn:
    text = body.decode("utf-8", "replace")
    try:
        detail = json.loads(text).get("detail", text)
    except (ValueError, AttributeError):
        detail = text
    err.print(f"{status}: {detail}", style="red", markup=False)
    raise SystemExit(1)
