"""Fenced leases on both back ends: one holder at a time, renewal, owner-checked release, and a
write under a lost lease refused inside its own transaction."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update

from bifrost.store import leases
from bifrost.store.db import Database
from bifrost.store.models import Lease, utcnow

NAME = "test.lease"


@pytest.fixture
async def db(backend) -> Database:
    database = Database(backend.settings)
    yield database
    await database.close()


async def expire(db: Database) -> None:
    async with db.write() as session:
        await session.execute(update(Lease).where(Lease.name == NAME).values(expires_at=utcnow()))


async def test_one_holder_at_a_time(db: Database) -> None:
    fence = await leases.acquire(db, NAME, "a", 60)
    with pytest.raises(leases.LeaseHeld, match="held by a") as caught:
        await leases.acquire(db, NAME, "b", 60)
    assert caught.value.holder == "a"
    held = await leases.holder(db, NAME)
    assert held is not None and (held.owner, held.fence) == ("a", fence)
    assert await leases.acquire(db, NAME, "a", 60) == fence  # the owner again: same fence


async def test_release_is_owner_checked_and_the_fence_grows(db: Database) -> None:
    first = await leases.acquire(db, NAME, "a", 60)
    assert not await leases.release(db, NAME, "b", first)
    assert await leases.holder(db, NAME) is not None
    assert await leases.release(db, NAME, "a", first)
    assert await leases.holder(db, NAME) is None
    second = await leases.acquire(db, NAME, "b", 60)
    assert second > first


async def test_an_expired_lease_is_taken_over_and_the_old_holder_is_refused(db: Database) -> None:
    old = await leases.acquire(db, NAME, "a", 60)
    await expire(db)
    new = await leases.acquire(db, NAME, "b", 60)
    assert new > old
    with pytest.raises(leases.LeaseLost, match="now held by b"):
        await leases.renew(db, NAME, "a", old, 60)
    with pytest.raises(leases.LeaseLost):
        async with db.write() as session:
            await leases.check(session, NAME, "a", old)
    assert not await leases.release(db, NAME, "a", old)
    await leases.renew(db, NAME, "b", new, 60)
    async with db.write() as session:
        await leases.check(session, NAME, "b", new)


async def test_renewal_keeps_an_expired_lease_nobody_took(db: Database) -> None:
    fence = await leases.acquire(db, NAME, "a", 60)
    await expire(db)
    await leases.renew(db, NAME, "a", fence, 60)
    held = await leases.holder(db, NAME)
    assert held is not None and held.fence == fence


async def test_a_write_under_a_lost_lease_rolls_back(db: Database) -> None:
    fence = await leases.acquire(db, NAME, "a", 60)
    await expire(db)
    await leases.acquire(db, NAME, "b", 60)
    with pytest.raises(leases.LeaseLost):
        async with db.write() as session:
            session.add(Lease(name="written.under.lost", owner="a", fence=1, expires_at=utcnow()))
            await session.flush()
            await leases.check(session, NAME, "a", fence)
    async with db.read() as session:
        assert await session.get(Lease, "written.under.lost") is None


@pytest.mark.parametrize("row", ["absent", "expired"])
async def test_concurrent_acquires_exactly_one_wins(backend, row: str) -> None:
    databases = [Database(backend.settings) for _ in range(6)]
    try:
        if row == "expired":
            await leases.acquire(databases[0], NAME, "before", 60)
            await expire(databases[0])
        outcomes = await asyncio.gather(
            *(leases.acquire(d, NAME, f"owner-{i}", 60) for i, d in enumerate(databases)),
            return_exceptions=True,
        )
    finally:
        for database in databases:
            await database.close()
    won = [o for o in outcomes if isinstance(o, int)]
    assert len(won) == 1, outcomes
    assert all(isinstance(o, leases.LeaseHeld) for o in outcomes if not isinstance(o, int))


async def test_a_holder_known_to_be_gone_is_replaced(db: Database) -> None:
    old = await leases.acquire(db, NAME, "crashed-job", 60)
    with pytest.raises(leases.LeaseHeld):
        await leases.acquire(db, NAME, "b", 60, replace="someone-else")
    new = await leases.acquire(db, NAME, "b", 60, replace="crashed-job")
    assert new > old
    with pytest.raises(leases.LeaseLost):
        await leases.renew(db, NAME, "crashed-job", old, 60)
