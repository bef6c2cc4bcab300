"""The CLI's HTTP client: where the API is, which token to send, and errors printed for people.

A client command must start fast (well under 0.3 s), so this module imports no server code (no
SQLAlchemy, SAQ, redis or FastAPI) and not even pydantic: it reads the few ``BIFROST_*`` variables
it needs straight from the environment, with the defaults of :class:`bifrost.settings.Settings`
(a test keeps the two in step).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import typer
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


def client() -> httpx.Client:
    config = ClientConfig.from_env()
    if not config.token:
        err.print("[red]no token[/]: set BIFROST_ADMIN_TOKEN or run `bifrost init` on this machine")
        raise typer.Exit(2)
    return httpx.Client(
        base_url=config.base_url,
        headers={"Authorization": f"Bearer {config.token}"},
        timeout=None,
    )


def _check(response: httpx.Response) -> httpx.Response:
    if response.is_success:
        return response
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    err.print(f"{response.status_code}: {detail}", style="red", markup=False)
    raise typer.Exit(1)


@contextmanager
def _reaching() -> Iterator[None]:
    try:
        yield
    except httpx.TransportError as exc:
        err.print(f"[red]cannot reach the API[/] ({exc}); is `bifrost up` running?")
        raise typer.Exit(1) from exc


def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One API call; an error answer or an unreachable API ends the command with its message."""
    with _reaching(), client() as http:
        return _check(http.request(method, url, **kwargs))
