"""Closing work that nothing will finish: executions and jobs of dead processes, and pending ones
their queue lost.

A run is marked ``running`` only after 50 ms, so a run that ended sooner and could not record its
outcome, or whose queued task Redis lost, would otherwise stay ``pending`` for ever. A pending run
older than one sweep period is lost when its queue no longer holds it, or when the queue says it
has been active for longer than that period (a live worker would have marked it by then). Such
runs are closed as failed, never re-dispatched: they may have run already. Jobs follow the same
rules (a scheduler claims a job as soon as it takes it).

A worker marks a run ``running`` (a distributed worker claims each queued run before it starts
it); a run whose outcome could not be recorded would stay ``running`` while its worker lives, so
each worker closes those of its own it no longer has in hand. A run the API of the same process
handed straight to its worker (``Runner.start_here``) was never queued: only its worker knows it
is still going, which is why no other process judges it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from typing import Protocol

from bifrost.runtime.protocol import ExecutionStatus
from bifrost.store import executions
from bifrost.store.db import Database
from bifrost.store.models import utcnow
from bifrost.worker.heartbeat import Roster
from bifrost.worker.queue import Presence, WorkQueue

log = logging.getLogger(__name__)

LOST_EXECUTION = (
    "the execution's queued task is gone (its worker stopped before it was recorded, or the "
    "queue lost it); start the run again"
)
LOST_JOB = "the job's queued task is gone (the queue lost it); start it again"


class Reaper:
    """Runs ``sweep`` every ``interval_s`` until stopped; a failed sweep is retried next time."""

    def __init__(self, sweep: Callable[[], Awaitable[int]], interval_s: float, what: str) -> None:
        self.sweep = sweep
        self.interval_s = interval_s
        self.what = what
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                count = await self.sweep()
            except Exception as exc:  # boundary: the next sweep tries again
                log.warning("could not check for %s: %s", self.what, exc)
                continue
            if count:
                log.warning("closed %d %s", count, self.what)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Records(Protocol):
    """What a reaper needs of a kind of record (``store.executions``, ``store.jobs``)."""

    async def fail_abandoned(self, db: Database, live: set[str] | None) -> int: ...

    async def pending_since(self, db: Database, before: datetime) -> list[str]: ...

    async def fail_lost(self, db: Database, ids: Collection[str], message: str) -> int: ...


async def close_lost(
    db: Database,
    records: Records,
    roster: Roster,
    own_id: str,
    queue: WorkQueue,
    *,
    min_age_s: float,
    message: str,
) -> int:
    """Close running rows whose process is gone and pending rows their queue lost."""
    live = {entry["id"] for entry in await roster.live()}
    if own_id not in live:  # never judge others while our own view is broken
        return 0
    count = await records.fail_abandoned(db, live)
    now = utcnow()
    lost = []
    for record_id in await records.pending_since(db, now - timedelta(seconds=min_age_s)):
        state = await queue.state(record_id)
        if state.presence is Presence.GONE or (
            state.presence is Presence.ACTIVE
            and state.started_at is not None
            and now.timestamp() - state.started_at > min_age_s
        ):
            lost.append(record_id)
    return count + await records.fail_lost(db, lost, message)


async def close_unrecorded(
    db: Database, worker_id: str, running: Collection[str], *, min_age_s: float, message: str
) -> int:
    """Close executions ``worker_id`` marked running over ``min_age_s`` ago and no longer has in
    hand (``running``): it could not record their outcome."""
    cutoff = utcnow() - timedelta(seconds=min_age_s)
    claimed = await executions.claimed_since(db, cutoff, worker_id)
    lost = [execution_id for execution_id in claimed if execution_id not in running]
    return await executions.fail_lost(db, lost, message, ExecutionStatus.RUNNING)
