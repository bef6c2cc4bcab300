"""`/api/sync`: start a sync of any target as a job, and the status every process shares.

``POST /api/sync/github`` starts the GitHub sync job (events on ``git:<job_id>``), exactly as
``POST /api/github/sync`` does; every other target (``all`` included) runs as a ``sync.run`` job
(events on ``sync:<job_id>``). The body is the target's options (``bifrost.sync.targets``).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, Field

from bifrost import errors
from bifrost.api.auth import require_token
from bifrost.api.deps import Services, services
from bifrost.api.errors import error_responses
from bifrost.names import GITHUB_SYNC_JOB, SYNC_JOB, job_channel
from bifrost.sync import github
from bifrost.sync.status import read_status
from bifrost.sync.targets import check

router = APIRouter(prefix="/api/sync", tags=["sync"])


class SyncStarted(BaseModel):
    job_id: str = Field(description="GET /api/jobs/{job_id}")
    channel: str = Field(description="Where its events are at /api/ws (git:<id> or sync:<id>)")


class Breaker(BaseModel):
    state: str = Field(description="closed, open (paused until retry_at) or half_open")
    failures: int
    retry_at: str | None


class TargetStatus(BaseModel):
    last_run_at: str | None
    last_result: dict[str, Any] | None
    last_error: str | None
    next_run_at: str | None
    lag_s: float | None = Field(description="Seconds since the last run without an error")
    pending: list[dict[str, Any]] = Field(description="Paths waiting for a decision")
    breaker: Breaker


@router.get("/status", response_model=dict[str, TargetStatus])
async def sync_status(svc: Services = Depends(services)) -> dict[str, Any]:
    return await read_status(svc.db, svc.settings)


@router.post(
    "/{target}",
    status_code=202,
    response_model=SyncStarted,
    responses=error_responses(400, 409, 413, 422, 503),
)
async def start(
    target: str,
    options: dict[str, Any] | None = Body(None),
    svc: Services = Depends(services),
    user: str = Depends(require_token),
) -> SyncStarted:
    """Start a sync of ``target``; 409 for ``github`` while another sync runs or when the
    workspace is not connected, 422 for an unknown target or option."""
    checked = check(target, options or {})
    if target == github.TARGET:
        reason = await github.not_connected(svc.db)
        if reason is not None:
            raise errors.Conflict(reason)
        job_id = await github.start_job(
            svc.db, svc.settings, svc.jobs, {**checked, "auto": False}, user=user
        )
        return SyncStarted(job_id=job_id, channel=job_channel(job_id, GITHUB_SYNC_JOB))
    job_id = uuid.uuid4().hex
    params = {"target": target, "options": checked}
    await svc.jobs.start(SYNC_JOB, params, job_id=job_id, created_by=user)
    return SyncStarted(job_id=job_id, channel=job_channel(job_id, SYNC_JOB))
