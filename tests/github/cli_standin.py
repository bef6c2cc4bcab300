"""A stand-in for Bifrost's GitHub routes, for the CLI's own tests: their HTTP contract (config,
configure, disconnect, preview, sync, commits, the job record and its ``git:<id>`` channel on
/api/ws), answering what a test scripted and recording what it was sent.

It checks what a client must get right (the Bearer token, the JSON bodies, subscribing before it
reads the record) and nothing of the server's own logic: the end-to-end tests in
test_cli_github.py run the same commands against a real `bifrost up` and the fake GitHub.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

TOKEN = "standin-admin-token"
JOB_ID = "job-0123456789abcdef"

NOT_CONNECTED = {
    "connected": False,
    "repository": None,
    "branch": None,
    "api_url": "http://fake.invalid",
    "auth": None,
    "app_id": None,
    "installation_id": None,
    "connected_by": None,
    "connected_at": None,
    "synced_commit": None,
    "synced_at": None,
}
EMPTY_PREVIEW = {
    "to_pull": [],
    "to_push": [],
    "conflicts": [],
    "will_orphan": [],
    "is_empty": True,
    "remote_commit": "c" * 40,
    "synced_commit": "c" * 40,
}


def job(status: str, **fields: Any) -> dict[str, Any]:
    """A ``GET /api/jobs/{id}`` answer."""
    return {
        "id": JOB_ID,
        "kind": "github.sync",
        "status": status,
        "progress": None,
        "log": "",
        "result": None,
        "error": None,
        **fields,
    }


@dataclass
class StandIn:
    """What the routes answer (set by the test) and what they were sent."""

    url: str = ""
    config: dict[str, Any] = field(default_factory=lambda: dict(NOT_CONNECTED))
    preview: dict[str, Any] = field(default_factory=lambda: dict(EMPTY_PREVIEW))
    commits: dict[str, Any] = field(default_factory=lambda: {"items": [], "next_page": None})
    sync_refusal: tuple[int, str] | None = None  # (status, detail) for POST /api/github/sync
    websocket: bool = True  # False: /api/ws refuses, the CLI must poll the record
    events: list[dict[str, Any]] = field(  # sent on git:<id>, in order
        default_factory=lambda: [{"type": "done", "ok": True}]
    )
    final: dict[str, Any] = field(default_factory=lambda: job("success", result={}))
    polled: list[dict[str, Any]] = field(default_factory=list)  # records before ``final``
    posted: list[tuple[str, Any]] = field(default_factory=list)  # (path, JSON body)
    subscriptions: list[str] = field(default_factory=list)
    reads: int = 0  # GET /api/jobs/{id}
    _events_sent: threading.Event = field(default_factory=threading.Event)

    def record(self) -> dict[str, Any]:
        """With a WebSocket: running until every event went out, then ``final``. Without:
        ``polled`` one per read, then ``final``."""
        self.reads += 1
        if self.websocket:
            return self.final if self._events_sent.is_set() else job("running")
        return self.polled[self.reads - 1] if self.reads <= len(self.polled) else self.final


def _authorized(headers: Any) -> bool:
    return headers.get("authorization") == f"Bearer {TOKEN}"


def _app(state: StandIn) -> Starlette:
    async def guarded(request: Request) -> Response:
        if not _authorized(request.headers):
            return JSONResponse({"detail": "missing or invalid token"}, 401)
        path, method = request.url.path, request.method
        if method == "POST":
            body = await request.json() if await request.body() else None
            state.posted.append((path, body))
        if path == "/api/github/config":
            return JSONResponse(state.config)
        if path == "/api/github/configure":
            state.config = {
                **state.config,
                "connected": True,
                "repository": body["repository"],
                "branch": body["branch"],
            }
            return JSONResponse(state.config)
        if path == "/api/github/disconnect":
            state.config = dict(NOT_CONNECTED)
            return JSONResponse(state.config)
        if path == "/api/github/commits":
            return JSONResponse({**state.commits, "query": dict(request.query_params)})
        if path == "/api/github/sync" and method == "GET":
            return JSONResponse(state.preview)
        if path == "/api/github/sync":
            if state.sync_refusal:
                status, detail = state.sync_refusal
                return JSONResponse({"detail": detail}, status)
            return JSONResponse({"job_id": JOB_ID}, 202)
        if path == f"/api/jobs/{JOB_ID}":
            return JSONResponse(state.record())
        return JSONResponse({"detail": f"no route {method} {path}"}, 404)

    async def ws(websocket: WebSocket) -> None:
        if not state.websocket or not _authorized(websocket.headers):
            await websocket.close(code=4401)
            return
        await websocket.accept()
        channel = (await websocket.receive_json())["subscribe"]
        state.subscriptions.append(channel)
        await websocket.send_json({"subscribed": channel})
        while state.reads == 0:  # the client reads the record once it is subscribed
            await asyncio.sleep(0.01)
        for event in state.events:
            await websocket.send_json({"channel": channel, "event": event})
        state._events_sent.set()
        with contextlib.suppress(WebSocketDisconnect):
            await websocket.receive_text()  # until the client leaves

    methods = ["GET", "POST"]
    return Starlette(
        routes=[
            WebSocketRoute("/api/ws", ws),
            Route("/api/{rest:path}", guarded, methods=methods),
        ]
    )


@contextmanager
def serving() -> Iterator[StandIn]:
    """The stand-in on a free port, in a thread of this process."""
    state = StandIn()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    state.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(
        uvicorn.Config(_app(state), log_level="warning", lifespan="off", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("the stand-in did not start")
        time.sleep(0.01)
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()
