"""Job records: created when a job is started, updated by the scheduler that runs it."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bifrost.errors import Conflict, NotFound
from bifrost.names import UNFINISHED_JOBS, JobStatus
from bifrost.store.db import Database
from bifrost.store.models import Job, utcnow

LOG_LIMIT = 64 * 1024  # characters of a job's log kept in its record (the tail)


def bounded(log: str) -> str:
    return log[-LOG_LIMIT:]


async def create(
    db: Database, job_id: str, kind: str, params: dict[str, Any], *, created_by: str | None
) -> Job:
    job = Job(
        id=job_id,
        kind=kind,
        status=JobStatus.PENDING,
        params=params,
        log="",
        created_by=created_by,
        created_at=utcnow(),
    )
    try:
        async with db.write() as session:
            session.add(job)
    except IntegrityError as exc:
        raise Conflict(f"a job with id {job_id} exists already; pick another job_id") from exc
    return job


async def get(db: Database, job_id: str) -> Job:
    async with db.read() as session:
        job = await session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job has id {job_id}")
    return job


async def mark_running(db: Database, job_id: str, runner: str) -> bool:
    """Claim a pending job; False when it is gone or another runner has (had) it."""
    async with db.write() as session:
        result = await session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.PENDING)
            .values(status=JobStatus.RUNNING, started_at=utcnow(), runner=runner)
        )
    return bool(result.rowcount)


async def save_progress(db: Database, job_id: str, progress: dict | None, log: str) -> None:
    async with db.write() as session:
        await session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.RUNNING)
            .values(progress=progress, log=bounded(log))
        )


async def finish(
    db: Database,
    job_id: str,
    *,
    result: dict[str, Any] | None,
    error: dict[str, Any] | None,
    progress: dict[str, Any] | None,
    log: str,
) -> None:
    async with db.write() as session:
        await session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.RUNNING)
            .values(
                status=JobStatus.FAILED if error is not None else JobStatus.SUCCESS,
                result=result,
                error=error,
                progress=progress,
                log=bounded(log),
                finished_at=utcnow(),
            )
        )


async def fail_abandoned(db: Database, live_runners: set[str] | None) -> int:
    """Close running jobs whose scheduler is gone (``RunnerLost``).

    ``live_runners`` None means no scheduler is left (embedded mode starting up): nothing a
    previous process left pending or running can finish."""
    if live_runners is None:
        condition = Job.status.in_(UNFINISHED_JOBS)
        message = "Bifrost stopped before this job finished"
    else:
        condition = (Job.status == JobStatus.RUNNING) & Job.runner.not_in(live_runners)
        message = "the scheduler running this job stopped before it finished"
    return await _fail(db, condition, "RunnerLost", message)


async def pending_since(db: Database, before: datetime) -> list[str]:
    async with db.read() as session:
        rows = await session.scalars(
            select(Job.id).where(Job.status == JobStatus.PENDING, Job.created_at < before)
        )
        return list(rows)


async def fail_lost(db: Database, job_ids: Collection[str], message: str) -> int:
    if not job_ids:
        return 0
    condition = Job.id.in_(list(job_ids)) & (Job.status == JobStatus.PENDING)
    return await _fail(db, condition, "JobLost", message)


async def _fail(db: Database, condition: Any, kind: str, message: str) -> int:
    async with db.write() as session:
        result = await session.execute(
            update(Job)
            .where(condition)
            .values(
                status=JobStatus.FAILED,
                error={"type": kind, "message": message},
                finished_at=utcnow(),
            )
        )
    return result.rowcount or 0
