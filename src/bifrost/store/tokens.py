"""API tokens. Only hashes are stored; the plain admin token is shown once, at the first init."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from sqlalchemy import select

from bifrost.store.db import Database
from bifrost.store.models import ApiToken


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "bf_" + secrets.token_urlsafe(32)


async def ensure_admin_token(db: Database, configured: str | None) -> str | None:
    """Register the configured admin token, or mint one if none exists; returns a new plain token.

    Returns None when nothing new was minted (the configured token, or an existing admin).
    """
    async with db.write() as session:
        if configured:
            digest = token_hash(configured)
            if await session.scalar(select(ApiToken).where(ApiToken.token_hash == digest)) is None:
                session.add(
                    ApiToken(name="admin (BIFROST_ADMIN_TOKEN)", token_hash=digest, is_admin=True)
                )
            return None
        if await session.scalar(select(ApiToken).where(ApiToken.is_admin.is_(True)).limit(1)):
            return None
        token = new_token()
        session.add(ApiToken(name="admin", token_hash=token_hash(token), is_admin=True))
        return token


KNOWN_FOR_S = 30.0  # a valid token is re-checked against the database this often


class TokenChecker:
    """Verifies bearer tokens; remembers valid hashes for KNOWN_FOR_S so a request costs no query
    once warm, and a token whose row is deleted stops working within that time in every
    process (an unknown token is never remembered: each try asks the database)."""

    def __init__(
        self, db: Database, configured: str | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.db = db
        self._configured = token_hash(configured) if configured else None
        self._known: dict[str, tuple[str, float]] = {}  # hash -> (the token's name, valid until)
        self._clock = clock

    async def owner(self, token: str) -> str | None:
        """The token's name (recorded as who made a change), or None if it is not valid."""
        digest = token_hash(token)
        if self._configured and hmac.compare_digest(digest, self._configured):
            return "admin"
        known = self._known.get(digest)
        now = self._clock()
        if known is not None and now < known[1]:
            return known[0]
        async with self.db.read() as session:
            name = await session.scalar(select(ApiToken.name).where(ApiToken.token_hash == digest))
        if name is None:
            self._known.pop(digest, None)
        else:
            self._known[digest] = (name, now + KNOWN_FOR_S)
        return name

    async def is_valid(self, token: str) -> bool:
        return await self.owner(token) is not None
