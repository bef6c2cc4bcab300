"""`/api/ws`: subscribe to live event channels over a WebSocket."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

router = APIRouter()
MAX_SUBSCRIPTIONS = 64


def _token(websocket: WebSocket) -> str | None:
    token = websocket.query_params.get("token")
    header = websocket.headers.get("authorization", "")
    if not token and header.lower().startswith("bearer "):
        token = header[7:].strip()
    return token


@router.websocket("/api/ws")
async def events(websocket: WebSocket) -> None:
    token = _token(websocket)
    if not token or not await websocket.app.state.tokens.is_valid(token):
        await websocket.close(code=4401, reason="missing or invalid token")
        return
    await websocket.accept()
    bus = websocket.app.state.services.events
    async with contextlib.AsyncExitStack() as stack:
        forwarders: list[asyncio.Task] = []

        async def forward(channel: str, inbox: asyncio.Queue) -> None:
            while True:
                message = await inbox.get()
                await websocket.send_json({"channel": channel, "event": message})

        try:
            while True:
                try:
                    request = await websocket.receive_json()
                except ValueError:
                    request = None
                channel = request.get("subscribe") if isinstance(request, dict) else None
                if not isinstance(channel, str) or not channel:
                    await websocket.send_json({"error": 'send {"subscribe": "<channel>"}'})
                    continue
                if len(forwarders) >= MAX_SUBSCRIPTIONS:
                    await websocket.send_json({"error": f"at most {MAX_SUBSCRIPTIONS} channels"})
                    continue
                inbox = await stack.enter_async_context(bus.subscribe(channel))
                forwarders.append(asyncio.create_task(forward(channel, inbox)))
                await websocket.send_json({"subscribed": channel})
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            for task in forwarders:
                task.cancel()
