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
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bifrost.api.auth import require_token
from bifrost.api.deps import services
from bifrost.packages import service
from bifrost.services import Services
from bifrost.workspace.requirements import parse_requirement

router = APIRouter(prefix="/api/packages", tags=["packages"])
log = logging.getLogger(__name__)
_background: set[asyncio.Task] = set()  # keeps unawaited installs alive until they finish


class InstallRequest(BaseModel):
    requirement: str = Field(description="A PEP 508 requirement: name[extra]>=1.2; marker")
    wait: bool = Field(True, description="false: answer 202 at once and report by events")
    job_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Events go to packages:<job_id>"
    )


@router.get("")
async def list_packages(svc: Services = Depends(services)) -> dict[str, Any]:
    return await service.list_packages(svc)


@router.post("/install", response_model=None)
async def install(
    body: InstallRequest, svc: Services = Depends(services), user: str = Depends(require_token)
) -> dict[str, Any] | JSONResponse:
    job_id = body.job_id or uuid.uuid4().hex
    if body.wait:
        return await service.install(svc, body.requirement, user=user, job_id=job_id)
    parse_requirement(body.requirement)  # a typo is refused now, not in a background event
    task = asyncio.create_task(service.install(svc, body.requirement, user=user, job_id=job_id))
    _background.add(task)
    task.add_done_callback(_finished)
    return JSONResponse(
        {"job_id": job_id, "status": "started", "channel": service.job_channel(job_id)},
        status_code=202,
    )


def _finished(task: asyncio.Task) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("background package install failed: %s", task.exception())


@router.delete("/{name}")
async def remove(
    name: str, svc: Services = Depends(services), user: str = Depends(require_token)
) -> dict[str, Any]:
    return await service.remove(svc, name, user=user)
