"""The ASGI layer in front of every route: exact URLs, the token, then a bounded body.

FastAPI reads and parses a declared JSON body before it solves any dependency, so a token check
written as a dependency comes too late: 300 MiB sent without a token were buffered before the
401. Here the order is fixed: the URL must decode as UTF-8 (Starlette would replace bad bytes
with U+FFFD, and two different URLs would name one file), the token is checked, and only then
may the route read the body, which is cut off at its limit.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bifrost.api.errors import error
from bifrost.settings import Settings

PUBLIC = frozenset({"/api/health", "/api/github/webhook"})
"""Paths under /api/ that need no token (the WebSocket checks its own, before accepting; the
GitHub webhook checks GitHub's signature of the body)."""

UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _, token = (authorization or "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def _undecodable(scope: Scope) -> str | None:
    """Say which part of the URL is not UTF-8 once percent-decoded, or None if all of it is."""
    raw_path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    for part, what in ((raw_path, "path"), (query.replace(b"+", b" "), "query string")):
        try:
            unquote_to_bytes(part).decode("utf-8")
        except UnicodeDecodeError as exc:
            return (
                f"the URL's {what} is not valid UTF-8 once percent-decoded (byte "
                f"0x{exc.object[exc.start]:02x}); percent-encode names as UTF-8"
            )
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def _limit(self, scope: Scope) -> tuple[int, str]:
        if scope["method"] == "PUT" and scope["path"].startswith("/api/files/"):
            return self.settings.max_file_bytes, "BIFROST_MAX_FILE_BYTES"
        return self.settings.max_request_bytes, "BIFROST_MAX_REQUEST_BYTES"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = _undecodable(scope)
        if problem:
            await error(422, problem)(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith("/api/") and path not in PUBLIC:
            token = bearer_token(_header(scope, b"authorization"))
            if token is None:
                message = "missing token: send 'Authorization: Bearer <token>'"
                await error(401, message, UNAUTHORIZED)(scope, receive, send)
                return
            owner = await scope["app"].state.tokens.owner(token)
            if owner is None:
                await error(401, "invalid token", UNAUTHORIZED)(scope, receive, send)
                return
            scope.setdefault("state", {})["token_owner"] = owner
        limit, setting = self._limit(scope)
        declared = _header(scope, b"content-length")
        too_large = f"the request body is over the limit of {limit:,} bytes ({setting})"
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await error(413, too_large)(scope, receive, send)
            return
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, too_large)
            return message

        await self.app(scope, bounded_receive, send)
