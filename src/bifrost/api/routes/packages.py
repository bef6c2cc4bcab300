"""`/api/packages`: install, list and remove the workspace's Python packages.

Installs can take minutes: the client may pass its own ``job_id`` and subscribe to
``packages:<job_id>`` on `/api/ws` first, to see the installer's output and progress live; with
``"wait": false`` the call returns at once (202) and the final ``{"type": "done"}`` event carries
the outcome.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictBool

from bifrost.api.auth import require_token
from bifrost.api.deps import services
from bifrost.api.errors import error_responses
from bifrost.api.schemas import InstallResult, InstallStarted, PackageList, RemoveResult
from bifrost.packages import service
from bifrost.services import Services
from bifrost.workspace.requirements import parse_requirement

router = APIRouter(prefix="/api/packages", tags=["packages"])
log = logging.getLogger(__name__)
_background: set[asyncio.Task] = set()  # keeps unawaited installs alive until they finish


# PEP 508's name rule (packaging's), so the document says which names exist.
PACKAGE_NAME = r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$"


class InstallRequest(BaseModel):
    requirement: str = Field(
        min_length=1, description="A PEP 508 requirement: name[extra]>=1.2; marker"
    )
    wait: StrictBool = Field(True, description="false: answer 202 at once and report by events")
    job_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Events go to packages:<job_id>"
    )


@router.get("", response_model=PackageList, responses=error_responses(409))
async def list_packages(svc: Services = Depends(services)) -> PackageList:
    return PackageList.model_validate(await service.list_packages(svc))


@router.post(
    "/install",
    response_model=InstallResult,
    responses={
        202: {"model": InstallStarted, "description": "Started (wait: false)"},
        **error_responses(400, 409, 413),
    },
)
async def install(
    body: InstallRequest, svc: Services = Depends(services), user: str = Depends(require_token)
) -> InstallResult | JSONResponse:
    job_id = body.job_id or uuid.uuid4().hex
    if body.wait:
        done = await service.install(svc, body.requirement, user=user, job_id=job_id)
        return InstallResult.model_validate(done)
    parse_requirement(body.requirement)  # a typo is refused now, not in a background event
    task = asyncio.create_task(service.install(svc, body.requirement, user=user, job_id=job_id))
    _background.add(task)
    task.add_done_callback(_finished)
    started = InstallStarted(job_id=job_id, status="started", channel=service.job_channel(job_id))
    return JSONResponse(started.model_dump(), status_code=202)


def _finished(task: asyncio.Task) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("background package install failed: %s", task.exception())


@router.delete("/{name}", response_model=RemoveResult, responses=error_responses(404, 409))
async def remove(
    name: str = Path(pattern=PACKAGE_NAME, max_length=200),
    svc: Services = Depends(services),
    user: str = Depends(require_token),
) -> RemoveResult:
    return RemoveResult.model_validate(await service.remove(svc, name, user=user))
