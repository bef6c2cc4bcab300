"""`/api/executions`: what ran, with its result, logs and error."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from bifrost.api.deps import Services, services
from bifrost.api.errors import error_responses
from bifrost.api.paging import CURSOR, limit_param
from bifrost.api.schemas import ExecutionInfo, ExecutionPage
from bifrost.store import executions

router = APIRouter(prefix="/api/executions", tags=["executions"])


@router.get("", response_model=ExecutionPage, responses=error_responses(422))
async def list_executions(
    workflow_id: str | None = Query(None, max_length=64, description="Only this workflow's runs"),
    limit: int = limit_param(50),
    cursor: str | None = CURSOR,
    svc: Services = Depends(services),
) -> ExecutionPage:
    """Executions newest first, one page at a time (each carries its result and logs)."""
    return ExecutionPage.model_validate(
        await executions.recent(svc.db, workflow_id=workflow_id, cursor=cursor, limit=limit)
    )


@router.get("/{execution_id}", response_model=ExecutionInfo, responses=error_responses(404))
async def get_execution(execution_id: str, svc: Services = Depends(services)) -> ExecutionInfo:
    return ExecutionInfo.model_validate(await executions.get(svc.db, execution_id))
