"""The ``github`` target: the GitHub sync job (``bifrost.github.sync``), started and recorded.

Every GitHub sync, whoever started it (the API, ``sync("github")``, the daemon, the webhook), runs
as a ``github.sync`` job under the sync lease, publishes on ``git:<job_id>``, and leaves its result
in the sync status (:func:`recorded`). ``run_here`` runs one in this process and waits for it: the
job is recorded like any other (``GET /api/jobs/{id}``), but needs no scheduler.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bifrost import errors
from bifrost.context import Context
from bifrost.errors import Conflict
from bifrost.github.errors import EmptyRepository, GitHubError, NotFastForward
from bifrost.github.session import NOT_CONNECTED
from bifrost.github.sync import GitHubSync, running_message
from bifrost.jobs.runner import JobHandler, JobRun, JobRunner, Jobs, finished, raise_for_failure
from bifrost.names import GITHUB_SYNC_JOB, GITHUB_SYNC_LEASE, SCHEDULER_ROLE, presence_prefix
from bifrost.secrets import load_box, scrub
from bifrost.settings import Settings
from bifrost.store import github as connections
from bifrost.store import jobs as records
from bifrost.store import leases, sync_state
from bifrost.store.db import Database
from bifrost.worker.heartbeat import Heartbeat, RedisRoster

TARGET = "github"


async def is_connected(db: Database) -> bool:
    return await connections.load(db, None) is not None


async def not_connected(db: Database) -> str | None:
    """Why the target cannot run (None: it can)."""
    return None if await is_connected(db) else NOT_CONNECTED


def counts_for_breaker(error: BaseException) -> bool:
    """GitHub (or the way to it) failed: not a sync that found the branch moved or empty."""
    return isinstance(error, GitHubError) and not isinstance(
        error, EmptyRepository | NotFastForward
    )


def recorded(settings: Settings, db: Database, handler: JobHandler) -> JobHandler:
    """``handler`` whose every outcome goes to the ``github`` row of the sync status: the result
    (its held paths become the pending list; a manual sync that succeeded leaves none), or the
    error; GitHub failures count towards the breaker, a success closes it."""

    async def run(job: JobRun) -> dict[str, Any]:
        try:
            result = await handler(job)
        except Exception as exc:
            message = exc.message if isinstance(exc, errors.BifrostError) else repr(exc)
            await sync_state.record_run(db, TARGET, result=None, error=scrub(message))
            if counts_for_breaker(exc):
                await sync_state.breaker_failed(
                    db,
                    TARGET,
                    threshold=settings.sync_breaker_failures,
                    cooldown_s=settings.sync_breaker_cooldown_s,
                )
            raise
        summary = {"job_id": job.id, "auto": bool(job.params.get("auto")), **result}
        await sync_state.record_run(
            db, TARGET, result=summary, error=None, pending=result.get("held") or []
        )
        await sync_state.breaker_succeeded(db, TARGET)
        return result

    return run


def handler(ctx: Context) -> JobHandler:
    """The recorded ``github.sync`` handler on ``ctx`` (the scheduler's, and ``run_here``'s)."""
    sync = GitHubSync(ctx.settings, ctx.db, ctx.objects, ctx.files, load_box(ctx.settings))
    return recorded(ctx.settings, ctx.db, sync)


async def take_lease(db: Database, settings: Settings, jobs_get: Any, job_id: str) -> int:
    """The sync lease for a new job ``job_id``; Conflict while another sync runs, unless that
    one's job is recorded as finished (its process died: no need to wait for the expiry)."""
    ttl_s = settings.github_sync_lease_s
    try:
        return await leases.acquire(db, GITHUB_SYNC_LEASE, job_id, ttl_s)
    except leases.LeaseHeld as exc:
        if not await _over(jobs_get, exc.holder):
            raise Conflict(running_message(exc.holder)) from exc
        return await leases.acquire(db, GITHUB_SYNC_LEASE, job_id, ttl_s, replace=exc.holder)


async def _over(jobs_get: Any, job_id: str) -> bool:
    try:
        return finished(await jobs_get(job_id))
    except errors.NotFound:
        return False


async def start_job(
    db: Database, settings: Settings, jobs: Jobs, params: dict[str, Any], *, user: str | None
) -> str:
    """Start a ``github.sync`` job on the queue (a scheduler runs it); its id. The lease is
    taken here, so of two requests at once exactly one starts a sync."""
    job_id = uuid.uuid4().hex
    fence = await take_lease(db, settings, jobs.get, job_id)
    try:
        await jobs.start(GITHUB_SYNC_JOB, params, job_id=job_id, created_by=user)
    except BaseException:
        await leases.release(db, GITHUB_SYNC_LEASE, job_id, fence)
        raise
    return job_id


@asynccontextmanager
async def announced(ctx: Context, runner_id: str) -> AsyncIterator[None]:
    """In distributed mode, list this process among the schedulers while it runs a job, so no
    scheduler's reaper takes the job for one whose runner died."""
    if ctx.redis is None:
        yield
        return
    roster = RedisRoster(ctx.redis, presence_prefix(ctx.settings.cache_prefix, SCHEDULER_ROLE))
    beat = Heartbeat(roster, {"id": runner_id, "role": "sync"})
    await beat.start()
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            await beat.stop()


async def run_here(
    ctx: Context,
    params: dict[str, Any],
    *,
    runner_id: str,
    user: str | None,
    announce: bool = False,
) -> dict[str, Any]:
    """Run a ``github.sync`` job in this process and return its result (its error raised)."""
    reason = await not_connected(ctx.db)
    if reason is not None:
        raise Conflict(reason)
    job_id = uuid.uuid4().hex
    fence = await take_lease(ctx.db, ctx.settings, lambda i: records.get(ctx.db, i), job_id)
    try:
        await records.create(ctx.db, job_id, GITHUB_SYNC_JOB, params, created_by=user)
    except BaseException:
        await leases.release(ctx.db, GITHUB_SYNC_LEASE, job_id, fence)
        raise
    runner = JobRunner(ctx.db, ctx.events, runner_id, {GITHUB_SYNC_JOB: handler(ctx)})
    async with announced(ctx, runner_id) if announce else contextlib.nullcontext():
        await runner.run(job_id)
    job = await records.get(ctx.db, job_id)
    return {"job_id": job_id, **raise_for_failure(job)}
