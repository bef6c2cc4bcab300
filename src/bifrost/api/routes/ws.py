"""`/api/ws`: subscribe to live event channels over a WebSocket.

The token never goes in the URL (servers and proxies log URLs), nor in any other part of the
handshake a browser sends. A client that can set headers sends ``Authorization: Bearer
<token>``. A browser, which cannot, first asks ``POST /api/ws/ticket`` (with its token, like any
request) for a one-time ticket (bifrost.api.tickets), then offers two subprotocols, ``bifrost``
and ``bifrost.ticket.<ticket>``; the server takes the ticket (a used or expired one is refused)
and accepts with ``bifrost`` alone, so the ticket is not echoed back either.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field

from bifrost.api.auth import require_token
from bifrost.api.deps import Services, services
from bifrost.api.errors import error_responses
from bifrost.api.guard import bearer_token
from bifrost.api.tickets import TTL_S

router = APIRouter()
MAX_SUBSCRIPTIONS = 64
MAX_CHANNEL_LENGTH = 200
SUBPROTOCOL = "bifrost"
TICKET_PROTOCOL_PREFIX = "bifrost.ticket."
REFUSED = 4401


class WsTicket(BaseModel):
    ticket: str = Field(description=f"Offer it as the subprotocol {TICKET_PROTOCOL_PREFIX}<ticket>")
    subprotocol: str = Field(description="The subprotocol to offer beside it (accepted alone)")
    expires_in: int = Field(description="Seconds it stays valid; it opens one connection")


@router.post(
    "/api/ws/ticket",
    response_model=WsTicket,
    tags=["events"],
    responses=error_responses(401),
)
async def ticket(svc: Services = Depends(services), user: str = Depends(require_token)) -> WsTicket:
    """A one-time ticket that opens `/api/ws` for a client that cannot send headers."""
    issued = await svc.tickets.issue(user)
    return WsTicket(ticket=issued, subprotocol=SUBPROTOCOL, expires_in=TTL_S)


def _offered(websocket: WebSocket) -> list[str]:
    header = websocket.headers.get("sec-websocket-protocol", "")
    return [p.strip() for p in header.split(",") if p.strip()]


async def _authorized(websocket: WebSocket, offered: list[str]) -> bool:
    """A valid bearer token in the header, or a ticket (taken: it opens nothing again)."""
    token = bearer_token(websocket.headers.get("authorization"))
    if token is not None:
        return await websocket.app.state.tokens.is_valid(token)
    for protocol in offered:
        if protocol.startswith(TICKET_PROTOCOL_PREFIX):
            tickets = websocket.app.state.services.tickets
            return await tickets.take(protocol[len(TICKET_PROTOCOL_PREFIX) :]) is not None
    return False


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
            reason="never put the token in the URL: use the Authorization header, or a ticket "
            f"from POST /api/ws/ticket as the {TICKET_PROTOCOL_PREFIX}<ticket> subprotocol",
        )
        return
    offered = _offered(websocket)
    if not await _authorized(websocket, offered):
        await websocket.close(code=REFUSED, reason="missing or invalid token, or a used ticket")
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
