"""Bearer tokens are remembered for a while, never for ever: a deleted token stops working."""

from __future__ import annotations

from sqlalchemy import delete

from bifrost.store.models import ApiToken
from bifrost.store.tokens import KNOWN_FOR_S, TokenChecker, token_hash


async def test_a_deleted_token_stops_working_once_its_memory_expires(store) -> None:
    async with store.db.write() as session:
        session.add(ApiToken(name="ci", token_hash=token_hash("bf_ci"), is_admin=False))
    now = [1000.0]
    checker = TokenChecker(store.db, None, clock=lambda: now[0])
    assert await checker.owner("bf_ci") == "ci"
    assert await checker.owner("bf_nope") is None
    async with store.db.write() as session:
        await session.execute(delete(ApiToken).where(ApiToken.name == "ci"))
    now[0] += KNOWN_FOR_S - 1
    assert await checker.owner("bf_ci") == "ci"  # remembered: no query for this request
    now[0] += 2
    assert await checker.owner("bf_ci") is None  # asked again, and gone
