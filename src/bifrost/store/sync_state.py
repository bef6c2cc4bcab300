"""The sync status table (``sync_status``): one row per target, shared by every process.

Writes only: what each target's row means (lag, breaker state) is worked out when it is read, in
``bifrost.sync.status``. Every change is one short write transaction on the target's row.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bifrost.store.db import Database
from bifrost.store.models import SyncState, utcnow

__all__ = ["SyncState", "aware", "breaker_failed", "read_all", "record_run", "update"]


def aware(moment: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; they were written as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=utcnow().tzinfo)


async def read_all(db: Database) -> dict[str, SyncState]:
    async with db.read() as session:
        rows = (await session.scalars(select(SyncState))).all()
    return {row.target: row for row in rows}


async def update(db: Database, target: str, change: Callable[[SyncState], None]) -> SyncState:
    """Apply ``change`` to the target's row (created on first use) in one transaction."""
    for attempt in range(2):  # two processes creating the first row: the loser retries on it
        try:
            async with db.write() as session:
                row = await session.scalar(
                    select(SyncState).where(SyncState.target == target).with_for_update()
                )
                if row is None:
                    row = SyncState(target=target, pending=[], breaker_failures=0)
                    session.add(row)
                change(row)
                return row
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


async def record_run(
    db: Database,
    target: str,
    *,
    result: dict[str, Any] | None,
    error: str | None,
    pending: list[Any] | None = None,
) -> SyncState:
    """One finished run: its result or error; ``pending`` replaces the waiting decisions."""

    def change(row: SyncState) -> None:
        now = utcnow()
        row.last_run_at = now
        row.last_result = result
        row.last_error = error
        if error is None:
            row.last_success_at = now
        if pending is not None:
            row.pending = pending

    return await update(db, target, change)


async def breaker_failed(
    db: Database, target: str, *, threshold: int, cooldown_s: float
) -> SyncState:
    """One more failure in a row; at ``threshold`` (and at every failure after, the half-open
    trial included) the breaker opens until ``cooldown_s`` from now."""

    def change(row: SyncState) -> None:
        row.breaker_failures = (row.breaker_failures or 0) + 1
        if row.breaker_failures >= threshold:
            row.breaker_retry_at = utcnow() + timedelta(seconds=cooldown_s)
            row.next_run_at = row.breaker_retry_at  # the trial

    return await update(db, target, change)


async def breaker_succeeded(db: Database, target: str) -> SyncState:
    def change(row: SyncState) -> None:
        row.breaker_failures = 0
        row.breaker_retry_at = None

    return await update(db, target, change)


async def schedule(db: Database, target: str, when: datetime | None) -> SyncState:
    def change(row: SyncState) -> None:
        row.next_run_at = when

    return await update(db, target, change)
