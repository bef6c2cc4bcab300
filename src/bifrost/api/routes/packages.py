"""`/api/packages`: install, list and remove the workspace's Python packages.

Installs and removals run as jobs (``GET /api/jobs/{id}``). Installs can take minutes: the client
may pass its own ``job_id`` and subscribe to ``job:<job_id>`` on `/api/ws` first, to see the
installer's output and progress live; with ``"wait": false`` the call returns at once (202) and
the final ``{"type": "done"}`` event carries the outcome.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictBool

from bifrost.api.auth import require_token
from bifrost.api.deps import Services, services
from bifrost.api.errors import error_responses
from bifrost.api.schemas import InstallResult, InstallStarted, PackageList, RemoveResult
from bifrost.jobs.runner import finished, raise_for_failure
from bifrost.names import INSTALL_PACKAGE_JOB, REMOVE_PACKAGE_JOB, job_channel
from bifrost.workspace.requirements import canonical_name, parse_requirement

router = APIRouter(prefix="/api/packages", tags=["packages"])


# PEP 508's name rule (packaging's), so the document says which names exist.
PACKAGE_NAME = r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$"


class InstallRequest(BaseModel):
    requirement: str = Field(
        min_length=1, description="A PEP 508 requirement: name[extra]>=1.2; marker"
    )
    wait: StrictBool = Field(True, description="false: answer 202 at once and report by events")
    job_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Events go to job:<job_id>"
    )


@router.get("", response_model=PackageList, responses=error_responses(409))
async def list_packages(svc: Services = Depends(services)) -> PackageList:
    return PackageList.model_validate(await svc.packages.list())


@router.post(
    "/install",
    response_model=InstallResult,
    responses={
        202: {"model": InstallStarted, "description": "Started (wait: false), or still queued"},
        **error_responses(400, 409, 413, 422, 503),
    },
)
async def install(
    body: InstallRequest, svc: Services = Depends(services), user: str = Depends(require_token)
) -> InstallResult | JSONResponse:
    job_id = body.job_id or uuid.uuid4().hex
    parse_requirement(body.requirement)  # a typo is refused now, not in a background event
    params = {"requirement": body.requirement}
    if not body.wait:
        await svc.jobs.start(INSTALL_PACKAGE_JOB, params, job_id=job_id, created_by=user)
        return _started(job_id)
    job = await svc.jobs.run(
        INSTALL_PACKAGE_JOB, params, job_id=job_id, created_by=user, wait_s=_wait_s(svc)
    )
    if not finished(job):
        return _started(job_id)
    return InstallResult.model_validate(raise_for_failure(job))


@router.delete(
    "/{name}",
    response_model=RemoveResult,
    responses={
        202: {"model": InstallStarted, "description": "Still queued (no scheduler took it)"},
        **error_responses(404, 409, 422, 503),
    },
)
async def remove(
    name: str = Path(pattern=PACKAGE_NAME, max_length=200),
    svc: Services = Depends(services),
    user: str = Depends(require_token),
) -> RemoveResult | JSONResponse:
    canonical_name(name)  # an invalid name is refused before any job starts
    job_id = uuid.uuid4().hex
    job = await svc.jobs.run(
        REMOVE_PACKAGE_JOB, {"name": name}, job_id=job_id, created_by=user, wait_s=_wait_s(svc)
    )
    if not finished(job):
        return _started(job_id)
    return RemoveResult.model_validate(raise_for_failure(job))


def _wait_s(svc: Services) -> float:
    """Longer than an install or removal can take: then the job is stuck in the queue (no
    scheduler is running), and the answer says where to follow it."""
    settings = svc.settings
    return settings.package_install_timeout_s * 2 + settings.package_recycle_wait_s + 60


def _started(job_id: str) -> JSONResponse:
    started = InstallStarted(job_id=job_id, status="started", channel=job_channel(job_id))
    return JSONResponse(started.model_dump(), status_code=202)
