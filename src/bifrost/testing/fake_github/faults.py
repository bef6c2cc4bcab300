"""Injected failures, the request log and the rate-limit headers: an ASGI layer in front of the
GitHub routes, so a fault looks to a client exactly like GitHub failing."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bifrost.testing.fake_github.errors import DOCS

ACTIONS = ("error", "hang", "apply_then_hang")
API_PREFIX = "/api/v3"
CONTROL_PREFIX = "/_fake/"
HOLD_MAX_S = 600.0  # a forgotten hang ends by itself
RATE_LIMIT = 5000
MESSAGES = {
    403: "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, "
    "please include the request ID.",
    429: "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
    "again.",
}


@dataclass
class Fault:
    """The next ``times`` requests matching ``method`` and ``path`` (a regex searched in the path
    after the base) fail, hang before being handled, or hang after being handled."""

    id: int
    method: str
    path: re.Pattern[str]
    status: int | None
    times: int
    headers: dict[str, str]
    message: str | None
    action: str

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and self.path.search(path) is not None

    def response(self) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        status = self.status or 500
        message = self.message or MESSAGES.get(status, "Server Error")
        content = json.dumps({"message": message, "documentation_url": DOCS, "status": str(status)})
        headers = [(k.lower().encode(), str(v).encode()) for k, v in self.headers.items()]
        return status, headers, content.encode()


@dataclass
class Faults:
    """The armed faults, the log of requests seen and the event that releases hung ones."""

    rules: list[Fault] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    used: int = 0
    reset_at: int = field(default_factory=lambda: int(time.time()) + 3600)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, spec: dict[str, Any]) -> Fault:
        """Arm a fault from the control API's JSON (ValueError for a bad one)."""
        action = spec.get("action", "error")
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
        status = spec.get("status")
        if status is not None and not (isinstance(status, int) and 100 <= status <= 599):
            raise ValueError("status must be an HTTP status")
        fault = Fault(
            id=next(self._ids),
            method=str(spec.get("method", "*")).upper(),
            path=re.compile(str(spec.get("path", ""))),
            status=status if status is not None else (500 if action == "error" else None),
            times=int(spec.get("times", 1)),
            headers={str(k): str(v) for k, v in (spec.get("headers") or {}).items()},
            message=spec.get("message"),
            action=action,
        )
        self.rules.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        for fault in self.rules:
            if fault.matches(method, path):
                fault.times -= 1
                if fault.times <= 0:
                    self.rules.remove(fault)
                return fault
        return None

    def release(self) -> int:
        held = sum(1 for entry in self.log if entry["state"] == "hanging")
        self._release.set()
        self._release = asyncio.Event()
        return held

    async def hold(self, entry: dict[str, Any]) -> None:
        entry["state"] = "hanging"
        released = self._release
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(released.wait(), HOLD_MAX_S)
        entry["state"] = "pending"

    def rate_headers(self) -> list[tuple[bytes, bytes]]:
        now = int(time.time())
        if now >= self.reset_at:
            self.used, self.reset_at = 0, now + 3600
        self.used += 1
        values = {
            "x-ratelimit-limit": RATE_LIMIT,
            "x-ratelimit-remaining": max(0, RATE_LIMIT - self.used),
            "x-ratelimit-reset": self.reset_at,
            "x-ratelimit-used": self.used,
            "x-ratelimit-resource": "core",
            "x-github-api-version-selected": "2022-11-28",
        }
        return [(k.encode(), str(v).encode()) for k, v in values.items()]


class FaultLayer:
    """Logs every GitHub request, applies the first matching fault and adds rate-limit headers
    (a fault's own headers win). The control API passes straight through."""

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith(API_PREFIX + "/"):
            path = path[len(API_PREFIX) :]
        method = scope["method"]
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "status": None,
            "state": "pending",
            "query": scope["query_string"].decode(),
        }
        self.faults.log.append(entry)
        fault = self.faults.take(method, path)
        rate = self.faults.rate_headers()

        async def reply(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = fault.headers if fault else {}
                extra = [h for h in rate if h[0].decode() not in own]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
                entry["status"] = message["status"]
            await send(message)

        if fault is not None and fault.action == "hang":
            await self.faults.hold(entry)
        if fault is not None and fault.action != "apply_then_hang" and fault.status:
            await self._send_fault(fault, reply)
        elif fault is not None and fault.action == "apply_then_hang":
            held: list[Message] = []

            async def keep(message: Message) -> None:
                held.append(message)

            await self.app(scope, receive, keep)
            await self.faults.hold(entry)
            if fault.status:
                await self._send_fault(fault, reply)
            else:
                for message in held:
                    await reply(message)
        else:
            await self.app(scope, receive, reply)
        entry["state"] = "done"

    @staticmethod
    async def _send_fault(fault: Fault, reply: Send) -> None:
        status, headers, content = fault.response()
        headers.append((b"content-type", b"application/json; charset=utf-8"))
        headers.append((b"content-length", str(len(content)).encode()))
        await reply({"type": "http.response.start", "status": status, "headers": headers})
        await reply({"type": "http.response.body", "body": content})
