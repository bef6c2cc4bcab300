"""`/api/jobs/{id}`: a background job's record (live events are on ``job:<id>`` at `/api/ws`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from bifrost.api.deps import Services, services
from bifrost.api.errors import error_responses
from bifrost.api.schemas import JobInfo

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobInfo, responses=error_responses(404))
async def get_job(job_id: str, svc: Services = Depends(services)) -> JobInfo:
    return JobInfo.model_validate(await svc.jobs.get(job_id))
