"""`/api/ws`: subscribe to live event channels over a WebSocket.

The token never goes in the URL (servers and proxies log URLs). A client that can set headers
sends ``Authorization: Bearer <token>``; a browser, which cannot, offers two subprotocols,
``bifrost`` and ``bifrost.bearer.<the token, base64url without padding>``, and the server
accepts with ``bifrost`` alone, so the token is not echoed back.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from bifrost.api.guard import bearer_token

router = APIRouter()
MAX_SUBSCRIPTIONS = 64
MAX_CHANNEL_LENGTH = 200
SUBPROTOCOL = "bifrost"
TOKEN_PROTOCOL_PREFIX = "bifrost.bearer."
REFUSED = 4401


def _offered(websocket: WebSocket) -> list[str]:
    header = websocket.headers.get("sec-websocket-protocol", "")
    return [p.strip() for p in header.split(",") if p.strip()]


def _protocol_token(offered: list[str]) -> str | None:
    for protocol in offered:
        if protocol.startswith(TOKEN_PROTOCOL_PREFIX):
            encoded = protocol[len(TOKEN_PROTOCOL_PREFIX) :]
            try:
                return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            except (binascii.Error, ValueError):
                return None
    return None


def _problem(message: dict) -> tuple[str | None, str | None]:
    """(the channel asked for, None) or (None, what is wrong with the message)."""
    if message.get("bytes") is not None:
        return None, 'send text frames: {"subscribe": "<channel>"} as JSON'
    try:
        request = json.loads(message.get("text") or "")
    except ValueError:
        request = None
    channel = request.get("subscribe") if isinstance(request, dict) else None
    if not isinstance(channel, str) or not channel:
        return None, 'send {"subscribe": "<channel>"}'
    if len(channel) > MAX_CHANNEL_LENGTH:
        return None, f"channel names are at most {MAX_CHANNEL_LENGTH} characters"
    return channel, None


@router.websocket("/api/ws")
async def events(websocket: WebSocket) -> None:
    if "token" in websocket.query_params:
        await websocket.close(
            code=REFUSED,
            reason="never put the token in the URL: use the Authorization header or the "
            f"{TOKEN_PROTOCOL_PREFIX}<base64url token> subprotocol",
        )
        return
    offered = _offered(websocket)
    token = bearer_token(websocket.headers.get("authorization")) or _protocol_token(offered)
    if not token or not await websocket.app.state.tokens.is_valid(token):
        await websocket.close(code=REFUSED, reason="missing or invalid token")
        return
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    bus = websocket.app.state.services.events
    async with contextlib.AsyncExitStack() as stack:
        forwarders: list[asyncio.Task] = []

        async def forward(channel: str, inbox: asyncio.Queue) -> None:
            while True:
                message = await inbox.get()
                await websocket.send_json({"channel": channel, "event": message})

        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                channel, problem = _problem(message)
                if problem is None and len(forwarders) >= MAX_SUBSCRIPTIONS:
                    problem = f"at most {MAX_SUBSCRIPTIONS} channels"
                if problem is not None:
                    await websocket.send_json({"error": problem})
                    continue
                inbox = await stack.enter_async_context(bus.subscribe(channel))
                forwarders.append(asyncio.create_task(forward(channel, inbox)))
                await websocket.send_json({"subscribed": channel})
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            for task in forwarders:
                task.cancel()
