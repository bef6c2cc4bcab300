"""`/api/github/sync`: running a sync (POST, as a job; its events are on ``git:<job_id>``)."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from bifrost.api.auth import require_token
from bifrost.api.deps import Services, services
from bifrost.api.errors import error_responses
from bifrost.errors import Conflict
from bifrost.github.sync import running_message
from bifrost.names import GITHUB_SYNC_JOB, GITHUB_SYNC_LEASE
from bifrost.store import leases

router = APIRouter(prefix="/api/github", tags=["github"])


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conflict_resolutions: dict[str, Literal["keep_local", "keep_remote", "merge"]] = Field(
        default_factory=dict,
        description='path -> how to settle its conflict ("merge" only where mergeable)',
    )
    confirm_orphans: StrictBool = Field(
        False, description="Go on even if workflows lose their function (will_orphan)"
    )


class SyncStarted(BaseModel):
    job_id: str = Field(description="GET /api/jobs/{job_id}; events on git:<job_id> at /api/ws")


@router.post(
    "/sync", status_code=202, response_model=SyncStarted, responses=error_responses(409, 422, 503)
)
async def start_sync(
    body: SyncRequest, svc: Services = Depends(services), user: str = Depends(require_token)
) -> SyncStarted:
    """Start a sync of what the preview shows now; 409 while another sync runs. The lease is
    taken here for the new job, so of two requests at once exactly one starts a sync."""
    job_id = uuid.uuid4().hex
    ttl_s = svc.settings.github_sync_lease_s
    try:
        fence = await leases.acquire(svc.db, GITHUB_SYNC_LEASE, job_id, ttl_s)
    except leases.LeaseHeld as exc:
        raise Conflict(running_message(exc.holder)) from exc
    try:
        await svc.jobs.start(GITHUB_SYNC_JOB, body.model_dump(), job_id=job_id, created_by=user)
    except BaseException:
        await leases.release(svc.db, GITHUB_SYNC_LEASE, job_id, fence)
        raise
    return SyncStarted(job_id=job_id)
