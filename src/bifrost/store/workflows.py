"""Workflow queries: the rows that index the decorated functions of the workspace's files."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bifrost.errors import Conflict, NotFound
from bifrost.store.db import Database
from bifrost.store.models import Workflow
from bifrost.store.paging import Order, Page, fetch_page

ORDER = Order("workflows", (Workflow.path, Workflow.function_name))  # uq_workflows_path_function


async def listed(
    db: Database, *, include_inactive: bool = False, cursor: str | None = None, limit: int = 500
) -> Page[Workflow]:
    """By file and function; inactive ones (their function is gone) only on request."""
    query = select(Workflow)
    if not include_inactive:
        query = query.where(Workflow.is_active.is_(True))
    async with db.read() as session:
        return await fetch_page(session, query, ORDER, cursor=cursor, limit=limit)


async def get(db: Database, workflow_id: str) -> Workflow:
    async with db.read() as session:
        return await get_in(session, workflow_id)


async def get_in(session: AsyncSession, workflow_id: str) -> Workflow:
    workflow = await session.get(Workflow, workflow_id)
    if workflow is None:
        raise NotFound(f"no workflow has id {workflow_id}")
    return workflow


def require_active(workflow: Workflow) -> None:
    """Only a workflow whose function is still in its file can run."""
    if not workflow.is_active:
        raise Conflict(
            f"workflow {workflow.name} ({workflow.path}) is no longer in its file; "
            "restore the function or run another workflow"
        )
