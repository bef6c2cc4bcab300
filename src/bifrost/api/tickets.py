"""One-time tickets for `/api/ws`: how a browser opens a WebSocket without sending its token.

A browser cannot set ``Authorization`` on a WebSocket, and a URL or a header that carries the
admin token ends up in some log. So the page asks ``POST /api/ws/ticket`` (with its token, as
any request) for a ticket: 32 random bytes, good for one connection within ``TTL_S`` seconds.
Only the ticket's SHA-256 is kept, in Redis in distributed mode (any API process may take the
connection) or in this process's memory when embedded. Taking a ticket deletes it, atomically:
a ticket that was used, or that expired, opens nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Protocol

import redis.asyncio as aioredis

from bifrost.names import ws_ticket_key

TTL_S = 30
"""Long enough for a page to connect on a slow link; too short to be worth stealing."""


def new_ticket() -> str:
    return secrets.token_urlsafe(32)  # URL-safe base64: valid in a Sec-WebSocket-Protocol token


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


class Tickets(Protocol):
    async def issue(self, owner: str) -> str:
        """A new ticket for ``owner`` (the token's name)."""
        ...

    async def take(self, ticket: str) -> str | None:
        """The ticket's owner, once; None if it is unknown, used or expired."""
        ...


class LocalTickets:
    """Embedded mode: one process serves every connection, so its memory is enough."""

    def __init__(self, ttl_s: float = TTL_S) -> None:
        self.ttl_s = ttl_s
        self._open: dict[str, tuple[str, float]] = {}  # digest -> (owner, deadline)

    async def issue(self, owner: str) -> str:
        now = time.monotonic()
        for digest in [d for d, (_, deadline) in self._open.items() if deadline <= now]:
            del self._open[digest]  # unused tickets do not pile up
        ticket = new_ticket()
        self._open[_digest(ticket)] = (owner, now + self.ttl_s)
        return ticket

    async def take(self, ticket: str) -> str | None:
        found = self._open.pop(_digest(ticket), None)
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]


class RedisTickets:
    """Distributed mode: the ticket may be used on another API process than the one that issued
    it; Redis expires it (``EX``) and ``GETDEL`` makes taking it one atomic step."""

    def __init__(self, redis: aioredis.Redis, prefix: str, ttl_s: int = TTL_S) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s

    async def issue(self, owner: str) -> str:
        ticket = new_ticket()
        await self.redis.set(ws_ticket_key(self.prefix, _digest(ticket)), owner, ex=self.ttl_s)
        return ticket

    async def take(self, ticket: str) -> str | None:
        owner = await self.redis.getdel(ws_ticket_key(self.prefix, _digest(ticket)))
        if owner is None:
            return None
        return owner.decode() if isinstance(owner, bytes) else str(owner)
