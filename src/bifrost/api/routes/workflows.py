"""`/api/workflows`: list workflows and run them."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from bifrost.api.deps import Services, services
from bifrost.api.errors import error_responses
from bifrost.api.paging import CURSOR, limit_param
from bifrost.api.schemas import ExecuteRequest, ExecutionInfo, WorkflowInfo, WorkflowPage
from bifrost.errors import Unavailable
from bifrost.names import execution_channel
from bifrost.runtime.protocol import ExecutionRequest
from bifrost.store import executions, workflows
from bifrost.worker import request as run_request
from bifrost.workspace.parameters import check_shape

router = APIRouter(prefix="/api/workflows", tags=["workflows"])

# How long a waiting request outlives the run's own timeout before it answers "still running".
WAIT_GRACE_S = 10.0


@router.get("", response_model=WorkflowPage, responses=error_responses(422))
async def list_workflows(
    include_inactive: bool = False,
    limit: int = limit_param(500),
    cursor: str | None = CURSOR,
    svc: Services = Depends(services),
) -> WorkflowPage:
    """Workflows by path and function name, one page at a time."""
    page = await workflows.listed(
        svc.db, include_inactive=include_inactive, cursor=cursor, limit=limit
    )
    return WorkflowPage.model_validate(page)


@router.get("/{workflow_id}", response_model=WorkflowInfo, responses=error_responses(404))
async def get_workflow(workflow_id: str, svc: Services = Depends(services)) -> WorkflowInfo:
    return WorkflowInfo.model_validate(await workflows.get(svc.db, workflow_id))


@router.post(
    "/{workflow_id}/execute",
    response_model=ExecutionInfo,
    responses={
        202: {"model": ExecutionInfo, "description": "Started (wait: false) or still running"},
        **error_responses(400, 404, 409, 413, 503),
    },
)
async def execute(
    workflow_id: str, body: ExecuteRequest, svc: Services = Depends(services)
) -> ExecutionInfo | JSONResponse:
    settings = svc.settings
    check_shape(
        body.parameters,
        max_depth=settings.max_parameter_depth,
        max_bytes=settings.max_parameters_bytes,
    )
    execution, request = await run_request.prepare(
        svc.db,
        workflow_id,
        body.parameters,
        timeout_s=settings.execution_timeout_s,
        max_timeout_s=settings.max_execution_timeout_s,
        memory_mb=settings.execution_memory_mb,
        recent=svc.recent_workflows,
    )
    info = ExecutionInfo.model_validate(execution)
    try:
        if not body.wait:
            await _submit(svc, request)
            return JSONResponse(info.model_dump(mode="json"), status_code=202)
        async with svc.events.subscribe(execution_channel(execution.id)) as inbox:
            await _submit(svc, request)
            try:
                outcome = await asyncio.wait_for(inbox.get(), request.timeout_s + WAIT_GRACE_S)
            except TimeoutError:
                current = await executions.get(svc.db, execution.id)
                return JSONResponse(
                    ExecutionInfo.model_validate(current).model_dump(mode="json"), status_code=202
                )
    except Unavailable as exc:  # the run never reached a worker: close it, then refuse
        await executions.fail(svc.db, execution.id, exc.message)
        raise
    return info.model_copy(
        update={
            "status": outcome["status"],
            "result": outcome["result"],
            "logs": outcome["logs"],
            "error": outcome["error"],
            "ran_generation": outcome["generation"],
            "duration_ms": outcome["duration_ms"],
        }
    )


async def _submit(svc: Services, request: ExecutionRequest) -> None:
    await svc.dispatcher.submit(request)
