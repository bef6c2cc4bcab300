"""`/api/workflows`: list workflows and run them; orphans, recreate, deactivate and activate."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from bifrost.api.auth import require_token
from bifrost.api.deps import Services, services
from bifrost.api.errors import error_responses
from bifrost.api.paging import CURSOR, limit_param
from bifrost.api.schemas import (
    ExecuteRequest,
    ExecutionInfo,
    OrphanPage,
    ReferenceInfo,
    Replacement,
    ReplacementList,
    ReplaceRequest,
    WorkflowDetail,
    WorkflowInfo,
    WorkflowPage,
)
from bifrost.errors import Unavailable
from bifrost.names import execution_channel
from bifrost.runtime.protocol import ExecutionRequest
from bifrost.store import executions, references, replacements, workflows
from bifrost.store.models import Workflow
from bifrost.store.references import Reference
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


@router.get("/orphaned", response_model=OrphanPage, responses=error_responses(422))
async def list_orphaned(
    include_inactive: bool = True,
    limit: int = limit_param(500),
    cursor: str | None = CURSOR,
    svc: Services = Depends(services),
) -> OrphanPage:
    """Workflows whose function left its file, with what uses them; each still runs its kept
    code until it is replaced, recreated or deactivated."""
    async with svc.db.read() as session:
        page = await workflows.listed_in(
            session,
            include_inactive=include_inactive,
            orphaned_only=True,
            cursor=cursor,
            limit=limit,
        )
        users = await references.used_by(session, page.items)
    return OrphanPage(
        items=[_detail(workflow, users[workflow.id]) for workflow in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/{workflow_id}", response_model=WorkflowDetail, responses=error_responses(404))
async def get_workflow(workflow_id: str, svc: Services = Depends(services)) -> WorkflowDetail:
    """The workflow and who uses it (forms, agents, apps, importing workflows)."""
    async with svc.db.read() as session:
        workflow = await workflows.get_in(session, workflow_id)
        users = (await references.used_by(session, [workflow]))[workflow.id]
    return _detail(workflow, users)


def _detail(workflow: Workflow, users: list[Reference]) -> WorkflowDetail:
    info = WorkflowInfo.model_validate(workflow)
    return WorkflowDetail(
        **info.model_dump(), used_by=[ReferenceInfo.model_validate(u) for u in users]
    )


@router.get(
    "/{workflow_id}/compatible-replacements",
    response_model=ReplacementList,
    responses=error_responses(404),
)
async def compatible_replacements(
    workflow_id: str, svc: Services = Depends(services)
) -> ReplacementList:
    """The live workflows that can take every call this one could, ranked, each with why."""
    workflow, found = await replacements.candidates(svc.db, workflow_id)
    return ReplacementList(
        workflow=WorkflowInfo.model_validate(workflow),
        items=[
            Replacement(
                workflow=WorkflowInfo.model_validate(c.workflow),
                rank=c.match.rank.value,
                reason=c.match.reason,
            )
            for c in found
        ],
    )


@router.post(
    "/{workflow_id}/replace",
    response_model=WorkflowInfo,
    responses=error_responses(404, 409, 422),
)
async def replace(
    workflow_id: str, body: ReplaceRequest, svc: Services = Depends(services)
) -> WorkflowInfo:
    """Point an orphan at another function; it keeps its id, so everything that uses it works."""
    workflow = await replacements.replace(svc.db, workflow_id, body.path, body.function)
    return WorkflowInfo.model_validate(workflow)


@router.post(
    "/{workflow_id}/recreate", response_model=WorkflowInfo, responses=error_responses(404, 409)
)
async def recreate(
    workflow_id: str, svc: Services = Depends(services), user: str = Depends(require_token)
) -> WorkflowInfo:
    """Write an orphan's kept source back to its path (one write, like PUT): it is no longer
    orphaned and keeps its id. 409 when that path holds a file again."""
    return WorkflowInfo.model_validate(await workflows.recreate(svc.files, workflow_id, user=user))


@router.post(
    "/{workflow_id}/deactivate", response_model=WorkflowInfo, responses=error_responses(404)
)
async def deactivate(workflow_id: str, svc: Services = Depends(services)) -> WorkflowInfo:
    """Stop a workflow (orphan or not) from running; the only thing that ever deactivates."""
    return WorkflowInfo.model_validate(await workflows.set_active(svc.db, workflow_id, False))


@router.post("/{workflow_id}/activate", response_model=WorkflowInfo, responses=error_responses(404))
async def activate(workflow_id: str, svc: Services = Depends(services)) -> WorkflowInfo:
    return WorkflowInfo.model_validate(await workflows.set_active(svc.db, workflow_id, True))


EXECUTE_RESPONSES = {
    202: {"model": ExecutionInfo, "description": "Started (wait: false) or still running"},
    **error_responses(400, 404, 409, 413, 503),
}


@router.post("/{workflow_id}/execute", response_model=ExecutionInfo, responses=EXECUTE_RESPONSES)
async def execute(
    workflow_id: str, body: ExecuteRequest, svc: Services = Depends(services)
) -> ExecutionInfo | JSONResponse:
    return await run(svc, workflow_id, body.parameters, wait=body.wait)


async def run(
    svc: Services, workflow_id: str, parameters: dict[str, Any], *, wait: bool
) -> ExecutionInfo | JSONResponse:
    """Record and dispatch one execution, and answer as ``execute`` does (a form's submit
    answers through here too)."""
    settings = svc.settings
    check_shape(
        parameters,
        max_depth=settings.max_parameter_depth,
        max_bytes=settings.max_parameters_bytes,
    )
    execution, request = await run_request.prepare(
        svc.db,
        workflow_id,
        parameters,
        timeout_s=settings.execution_timeout_s,
        max_timeout_s=settings.max_execution_timeout_s,
        memory_mb=settings.execution_memory_mb,
        recent=svc.recent_workflows,
    )
    info = ExecutionInfo.model_validate(execution)
    limit = request.timeout_s + WAIT_GRACE_S
    here = svc.dispatcher.start_here(request) if wait else None
    try:
        if here is not None:  # this process's worker took it: its task gives the outcome
            outcome = dataclasses.asdict(await asyncio.wait_for(asyncio.shield(here), limit))
        elif not wait:
            await _submit(svc, request)
            return JSONResponse(info.model_dump(mode="json"), status_code=202)
        else:
            async with svc.events.subscribe(execution_channel(execution.id)) as inbox:
                await _submit(svc, request)
                outcome = await asyncio.wait_for(inbox.get(), limit)
    except TimeoutError:  # still running: answer with what the row says now
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
