"""`/api/executions`: what ran, with its result, logs and error."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from bifrost.api.deps import Services, services
from bifrost.api.errors import error_responses
from bifrost.api.schemas import ExecutionInfo
from bifrost.store import executions

router = APIRouter(prefix="/api/executions", tags=["executions"])


@router.get("", response_model=list[ExecutionInfo])
async def list_executions(
    limit: int = 50, svc: Services = Depends(services)
) -> list[ExecutionInfo]:
    rows = await executions.recent(svc.db, min(max(limit, 1), 500))
    return [ExecutionInfo.model_validate(row) for row in rows]


@router.get("/{execution_id}", response_model=ExecutionInfo, responses=error_responses(404))
async def get_execution(execution_id: str, svc: Services = Depends(services)) -> ExecutionInfo:
    return ExecutionInfo.model_validate(await executions.get(svc.db, execution_id))
