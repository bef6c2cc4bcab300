"""Automatic sync: the daemon every ``bifrost scheduler`` (and ``bifrost up``) runs.

One scheduler leads at a time: the one holding the ``sync.leader`` lease
(``bifrost.store.leases``, in the database every scheduler shares), renewed every third of
``BIFROST_SYNC_LEASE_S``. The others try to take it every sixth of it, so when the leader dies
another takes over at most ``BIFROST_SYNC_LEASE_S`` (plus one sixth) after its last renewal. Only
the leader works:

- every ``BIFROST_SYNC_INTERVAL_S``, or at once when the push webhook says the branch moved
  (``github:push``), a GitHub poll: the ref read (one free call while the branch has not moved:
  it carries its ETag); when the branch or the workspace moved since the last idle poll, the
  preview, and when its safe part (``bifrost.github.auto``) has anything to do, an automatic
  ``github.sync`` job in this process. What needs a decision waits, listed as
  ``pending`` in the status, and holds back only its own paths;
- every ``BIFROST_SYNC_RECONCILE_INTERVAL_S``, the ``modules``, ``requirements`` and ``objects``
  targets.

GitHub failures in a row (``BIFROST_SYNC_BREAKER_FAILURES``) open a circuit breaker: no GitHub
call for ``BIFROST_SYNC_BREAKER_COOLDOWN_S``, then one trial that closes it or opens it again.
The two leases are apart on purpose: ``BIFROST_SYNC_LEASE_S`` decides who polls,
``BIFROST_GITHUB_SYNC_LEASE_S`` keeps two sync jobs (automatic or not) from running at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timedelta

from bifrost import errors
from bifrost.context import Context
from bifrost.github.auto import has_work, safe_part
from bifrost.github.preview import compute_preview
from bifrost.github.remote import read_remote
from bifrost.github.session import connected
from bifrost.names import GITHUB_PUSH_CHANNEL, SYNC_LEADER_LEASE
from bifrost.secrets import load_box, scrub
from bifrost.store import leases, sync_state
from bifrost.store.files import current_generation
from bifrost.store.models import utcnow
from bifrost.sync import github
from bifrost.sync.run import run_target
from bifrost.sync.status import breaker_state

log = logging.getLogger(__name__)

RECONCILED = ("modules", "requirements", "objects")
DAEMON_USER = "sync-daemon"  # the jobs' created_by
RETRY_PUSH_S = 1.0  # a push seen while another sync ran is tried again this soon


class SyncDaemon:
    def __init__(self, ctx: Context, owner: str) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.owner = owner
        self.leader = False
        self.box = load_box(ctx.settings)
        self._wake = asyncio.Event()
        self._pushed = False  # the webhook saw the branch move: the next poll syncs at once
        self._retry_soon = False
        self._tasks: list[asyncio.Task[None]] = []
        # (repository, branch, remote head, workspace generation) of the last poll that found
        # nothing to do: while none of them moves, a poll is the ref read alone, even with
        # decisions pending (whose preview would read their blobs again).
        self._idle: tuple[str, str, str | None, int] | None = None
        self._idle_result: dict[str, object] = {}

    async def start(self) -> None:
        listening = asyncio.Event()
        self._tasks = [
            asyncio.ensure_future(self._lead()),
            asyncio.ensure_future(self._listen(listening)),
            asyncio.ensure_future(self._work()),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(listening.wait(), 5.0)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.leader:  # let a standby take over at once rather than at the expiry
            with contextlib.suppress(Exception):
                held = await leases.holder(self.ctx.db, SYNC_LEADER_LEASE)
                if held is not None and held.owner == self.owner:
                    await leases.release(self.ctx.db, SYNC_LEADER_LEASE, self.owner, held.fence)
        self.leader = False

    # ---- leadership -------------------------------------------------------------------------

    async def _lead(self) -> None:
        ttl = self.settings.sync_lease_s
        while True:
            try:
                await leases.acquire(self.ctx.db, SYNC_LEADER_LEASE, self.owner, ttl)
                if not self.leader:
                    log.info("automatic sync: %s leads", self.owner)
                    self.leader = True
                    self._wake.set()  # a new leader polls at once
            except leases.LeaseHeld:
                self.leader = False
            except Exception as exc:  # the database: try again; another may lead meanwhile
                log.warning("automatic sync: the leader lease was not renewed: %s", exc)
                self.leader = False
            await asyncio.sleep(ttl / 3 if self.leader else ttl / 6)

    async def _listen(self, listening: asyncio.Event) -> None:
        """Pushes the webhook saw: poll now instead of at the next interval."""
        while True:
            try:
                async with self.ctx.events.subscribe(GITHUB_PUSH_CHANNEL) as inbox:
                    listening.set()
                    while True:
                        await inbox.get()
                        self._pushed = True
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the bus went away: the polls go on meanwhile
                log.warning("automatic sync: push events unavailable: %s", exc)
                await asyncio.sleep(1.0)

    # ---- work -------------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            try:
                await self._work_loop()
            except asyncio.CancelledError:
                raise
            except Exception:  # never let one bad round end automatic sync
                log.exception("automatic sync: a round failed; going on")
                await asyncio.sleep(self.settings.sync_lease_s / 6)

    async def _work_loop(self) -> None:
        github_due = reconcile_due = 0.0
        while True:
            now = time.monotonic()
            if self.leader:
                if self._wake.is_set() or now >= github_due:
                    self._wake.clear()
                    github_due = now + await self._poll_github()
                if now >= reconcile_due:
                    interval = self.settings.sync_reconcile_interval_s
                    reconcile_due = now + interval
                    await self._reconcile(interval)
                pause = max(0.0, min(github_due, reconcile_due) - time.monotonic())
            else:
                github_due = reconcile_due = 0.0  # on taking over: at once
                self._wake.clear()  # the leader answers pushes
                pause = self.settings.sync_lease_s / 6
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)

    async def _schedule(self, target: str, in_s: float) -> None:
        await self._schedule_at(target, utcnow() + timedelta(seconds=in_s))

    async def _schedule_at(self, target: str, when: datetime) -> None:
        with contextlib.suppress(errors.BifrostError):
            await sync_state.schedule(self.ctx.db, target, when)

    async def _reconcile(self, interval: float) -> None:
        for target in RECONCILED:
            try:
                await run_target(self.ctx, target, {}, runner=self.owner, user=DAEMON_USER)
            except Exception as exc:  # recorded in the status by run_target
                log.warning("automatic sync of %s failed: %s", target, exc)
            await self._schedule(target, interval)

    async def _poll_github(self) -> float:
        """One poll; the seconds until the next."""
        interval = self.settings.sync_interval_s
        try:
            if not await github.is_connected(self.ctx.db):
                return interval
            rows = await sync_state.read_all(self.ctx.db)
            row = rows.get(github.TARGET)
            if breaker_state(row, self.settings.sync_breaker_failures, utcnow()) == "open":
                assert row is not None and row.breaker_retry_at is not None
                retry_at = sync_state.aware(row.breaker_retry_at)
                assert retry_at is not None
                wait = max(0.0, (retry_at - utcnow()).total_seconds())
                await self._schedule_at(github.TARGET, retry_at)
                return min(interval, wait) if wait > 0 else interval
            await self._schedule(github.TARGET, interval)
            pushed, self._pushed = self._pushed, False
            await self._github_once(pushed=pushed)
        except Exception as exc:
            log.warning("automatic GitHub sync failed: %s", scrub(str(exc)))
        if self._retry_soon:
            self._retry_soon = False
            return min(interval, RETRY_PUSH_S)
        return interval

    async def _github_once(self, *, pushed: bool = False) -> None:
        """``pushed``: the webhook said the branch moved, so the job is started without a
        preview here first (the job works out its own, and does nothing if nothing is safe)."""
        ctx, settings = self.ctx, self.settings
        push = settings.sync_auto_push
        if pushed:
            self._idle = None
            await self._run_job(push, pushed=True)
            return
        try:
            async with connected(settings, ctx.db, self.box) as (connection, client):
                remote = await read_remote(
                    client,
                    ctx.db,
                    connection.repository,
                    connection.branch,
                    concurrency=settings.github_concurrency,
                )
                async with ctx.db.read() as session:
                    generation = await current_generation(session)
                seen = (connection.repository, connection.branch, remote.commit_sha, generation)
                if seen == self._idle:
                    await sync_state.record_run(
                        ctx.db, github.TARGET, result=self._idle_result, error=None
                    )
                    await sync_state.breaker_succeeded(ctx.db, github.TARGET)
                    return
                preview = await compute_preview(
                    client, ctx.db, ctx.objects, connection, concurrency=settings.github_concurrency
                )
        except errors.BifrostError as exc:
            await sync_state.record_run(ctx.db, github.TARGET, result=None, error=exc.message)
            if github.counts_for_breaker(exc):
                await sync_state.breaker_failed(
                    ctx.db,
                    github.TARGET,
                    threshold=settings.sync_breaker_failures,
                    cooldown_s=settings.sync_breaker_cooldown_s,
                )
            raise
        safe, held = safe_part(preview, push=push)
        if not has_work(safe):
            idle = {"auto": True, "idle": True, "commit": preview.remote.commit_sha, "held": held}
            await sync_state.record_run(
                ctx.db, github.TARGET, result=idle, error=None, pending=held
            )
            await sync_state.breaker_succeeded(ctx.db, github.TARGET)
            self._idle, self._idle_result = seen, idle
            return
        self._idle = None
        await self._run_job(push)

    async def _run_job(self, push: bool, *, pushed: bool = False) -> None:
        try:
            await github.run_here(
                self.ctx,
                {"auto": True, "auto_push": push},
                runner_id=self.owner,
                user=DAEMON_USER,
            )
        except errors.Conflict as exc:  # another sync is running
            log.info("automatic GitHub sync deferred: %s", exc.message)
            if pushed:  # that sync may have started before the push: try again shortly
                self._pushed = True
                self._retry_soon = True
