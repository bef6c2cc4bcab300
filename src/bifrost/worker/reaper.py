"""Closing work that nothing will finish: runs of dead workers, and pending runs the queue lost.

A run is marked ``running`` only after 50 ms, so a run that ended sooner and could not record its
outcome, or whose queued task Redis lost, would otherwise stay ``pending`` for ever. A pending run
older than one sweep period is lost when its queue no longer holds it, or when the queue says it
has been active for longer than that period (a live worker would have marked it by then). Such
runs are closed as failed, never re-dispatched: they may have run already.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bifrost.store import executions
from bifrost.store.db import Database
from bifrost.store.models import utcnow
from bifrost.worker.heartbeat import Roster
from bifrost.worker.queue import Presence, WorkQueue

log = logging.getLogger(__name__)

LOST = (
    "the execution's queued task is gone (its worker stopped before it was recorded, or the "
    "queue lost it); start the run again"
)


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


async def close_lost_executions(
    db: Database, workers: Roster, own_id: str, queue: WorkQueue, min_age_s: float
) -> int:
    """Close running rows whose worker is gone and pending rows their queue lost."""
    live = {w["id"] for w in await workers.live()}
    if own_id not in live:  # never judge others while our own view is broken
        return 0
    count = await executions.fail_abandoned(db, live)
    now = utcnow()
    lost = []
    for execution_id in await executions.pending_since(db, now - timedelta(seconds=min_age_s)):
        state = await queue.state(execution_id)
        if state.presence is Presence.GONE or (
            state.presence is Presence.ACTIVE
            and state.started_at is not None
            and now.timestamp() - state.started_at > min_age_s
        ):
            lost.append(execution_id)
    return count + await executions.fail_lost(db, lost, LOST)
