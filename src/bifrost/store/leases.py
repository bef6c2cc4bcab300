"""Fenced leases: one holder of a name at a time, across every process that shares the database.

A lease has an owner, an expiry (renewed while the work runs) and a fence number that grows at
every new holder. Work done under a lease ends with :func:`check` inside its own transaction: the
row is locked (PostgreSQL ``FOR UPDATE``; SQLite's write transaction locks the whole file), so a
write made after the lease was taken over is refused instead of overwriting the new holder's.

Releasing keeps the row (expired) so the fence never goes back. Expiry compares this machine's
clock with the one that wrote it: keep the clocks of API and scheduler machines in step (NTP).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bifrost.errors import Conflict
from bifrost.store.db import Database
from bifrost.store.models import Lease, utcnow


class LeaseHeld(Conflict):
    """Someone else holds the lease; ``holder`` is its owner."""

    def __init__(self, name: str, holder: str) -> None:
        super().__init__(f"{name} is held by {holder}; wait for it to finish")
        self.holder = holder


class LeaseLost(Conflict):
    """The lease was released or taken over since it was acquired: stop, change nothing more."""


@dataclass(frozen=True)
class Holder:
    owner: str
    fence: int
    expires_at: datetime


def _aware(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back; they were written as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo)


async def _locked(session: AsyncSession, name: str) -> Lease | None:
    return await session.scalar(select(Lease).where(Lease.name == name).with_for_update())


def _live(row: Lease | None) -> bool:
    return row is not None and _aware(row.expires_at) > utcnow()


async def acquire(
    db: Database, name: str, owner: str, ttl_s: float, *, replace: str | None = None
) -> int:
    """Take ``name`` for ``ttl_s`` seconds; its new fence. LeaseHeld if another owner has it,
    unless that owner is ``replace`` (known to be gone: its fence then refuses whatever it might
    still try). The same owner acquiring again keeps its fence and extends the expiry."""
    for _ in range(2):  # a lost race to insert the first row is retried once, against that row
        try:
            async with db.write() as session:
                row = await _locked(session, name)
                expires = utcnow() + timedelta(seconds=ttl_s)
                if row is None:
                    session.add(Lease(name=name, owner=owner, fence=1, expires_at=expires))
                    return 1
                if _live(row) and row.owner not in (owner, replace):
                    raise LeaseHeld(name, row.owner)
                if row.owner != owner or not _live(row):
                    row.fence += 1
                row.owner = owner
                row.expires_at = expires
                return row.fence
        except IntegrityError:
            continue
    held = await holder(db, name)
    raise LeaseHeld(name, held.owner if held else "another process")


async def renew(db: Database, name: str, owner: str, fence: int, ttl_s: float) -> None:
    """Push the expiry ``ttl_s`` seconds ahead; LeaseLost if the lease is no longer ours."""
    async with db.write() as session:
        row = await _owned(session, name, owner, fence)
        row.expires_at = utcnow() + timedelta(seconds=ttl_s)


async def release(db: Database, name: str, owner: str, fence: int) -> bool:
    """Let the lease go if it is still ours; False when it was not (nothing changed)."""
    async with db.write() as session:
        row = await _locked(session, name)
        if row is None or (row.owner, row.fence) != (owner, fence):
            return False
        row.expires_at = utcnow()
        return True


async def holder(db: Database, name: str) -> Holder | None:
    """Who holds ``name`` now (None: nobody, or the lease expired)."""
    async with db.read() as session:
        row = await session.get(Lease, name)
    if row is None or not _live(row):
        return None
    return Holder(row.owner, row.fence, _aware(row.expires_at))


async def check(session: AsyncSession, name: str, owner: str, fence: int) -> None:
    """Inside another write transaction: LeaseLost unless ``owner`` still holds ``name`` with
    ``fence``. The row stays locked until that transaction ends, so no one takes the lease over
    between this check and the commit. An expired lease nobody took is still ours: its fence
    proves no other holder came in between."""
    await _owned(session, name, owner, fence)


async def _owned(session: AsyncSession, name: str, owner: str, fence: int) -> Lease:
    row = await _locked(session, name)
    if row is None or (row.owner, row.fence) != (owner, fence):
        taken = "" if row is None or row.owner == owner else f" (now held by {row.owner})"
        raise LeaseLost(f"the lease {name} was lost{taken}; nothing more was changed")
    return row
