"""Workflow queries: the rows that index the decorated functions of the workspace's files, and
the orphan lifecycle (recreate, deactivate, activate)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bifrost.errors import Conflict, Inconsistent, NotFound
from bifrost.store import kept
from bifrost.store.db import Database
from bifrost.store.files import Files, Write
from bifrost.store.models import Workflow, WorkspaceFile, utcnow
from bifrost.store.paging import Order, Page, fetch_page

# (path, function name) is not unique (a replaced orphan shares its target's): the id breaks ties.
ORDER = Order("workflows", (Workflow.path, Workflow.function_name, Workflow.id))


async def listed(
    db: Database,
    *,
    include_inactive: bool = False,
    orphaned_only: bool = False,
    cursor: str | None = None,
    limit: int = 500,
) -> Page[Workflow]:
    async with db.read() as session:
        return await listed_in(
            session,
            include_inactive=include_inactive,
            orphaned_only=orphaned_only,
            cursor=cursor,
            limit=limit,
        )


async def listed_in(
    session: AsyncSession,
    *,
    include_inactive: bool = False,
    orphaned_only: bool = False,
    cursor: str | None = None,
    limit: int = 500,
) -> Page[Workflow]:
    """By file and function, orphans included; deactivated ones only on request."""
    query = select(Workflow)
    if not include_inactive:
        query = query.where(Workflow.is_active.is_(True))
    if orphaned_only:
        query = query.where(Workflow.is_orphaned.is_(True))
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
    """Only an explicit deactivate stops a workflow from running (an orphan runs its kept code)."""
    if not workflow.is_active:
        raise Conflict(
            f"workflow {workflow.name} ({workflow.path}::{workflow.function_name}) is "
            f"deactivated; activate it first (POST /api/workflows/{workflow.id}/activate)"
        )


def require_kept_code(workflow: Workflow) -> None:
    """An orphan runs its kept code; one orphaned before Bifrost kept code has none."""
    if workflow.is_orphaned and (
        workflow.orphaned_generation is None or workflow.source_hash is None
    ):
        raise Conflict(
            f"workflow {workflow.name} was orphaned before Bifrost kept the code of orphans, so "
            f"there is none to run: restore {workflow.path} with the function, or replace it "
            f"(POST /api/workflows/{workflow.id}/replace)"
        )


async def set_active(db: Database, workflow_id: str, active: bool) -> Workflow:
    """Deactivate or activate any workflow, orphan or not; nothing else ever deactivates."""
    async with db.write() as session:
        workflow = await session.get(Workflow, workflow_id, with_for_update=True)
        if workflow is None:
            raise NotFound(f"no workflow has id {workflow_id}")
        if workflow.is_active != active:
            await session.execute(
                update(Workflow)
                .where(Workflow.id == workflow_id)
                .values(is_active=active, updated_at=utcnow())
            )
            await session.refresh(workflow)
    return workflow


async def recreate(files: Files, workflow_id: str, *, user: str | None = None) -> Workflow:
    """Write an orphan's kept source back to its path, in one unit of work: the write finds the
    function there again and un-orphans the row (same id). 409 when the path is live again."""
    db = files.db
    workflow = await get(db, workflow_id)
    if not workflow.is_orphaned:
        raise Conflict(f"workflow {workflow.name} is not orphaned: its file holds its function")
    require_kept_code(workflow)
    assert workflow.source_hash is not None
    async with db.read() as session:
        content = await kept.source(session, workflow.source_hash)
        if content is None:  # never needed keeping: some file (live or deleted) still holds it
            content = await session.scalar(
                select(WorkspaceFile.content)
                .where(
                    WorkspaceFile.content_hash == workflow.source_hash,
                    WorkspaceFile.content.is_not(None),
                )
                .limit(1)
            )
    if content is None:
        raise Inconsistent(
            f"the kept source of workflow {workflow.name} (sha256 {workflow.source_hash}) is "
            "missing from the database"
        )
    exists = Conflict(
        f"{workflow.path} exists again, so its kept source was not written over it: edit that "
        f"file to hold {workflow.function_name}, or replace the orphan "
        f"(POST /api/workflows/{workflow.id}/replace)"
    )
    try:
        await files.apply([Write(workflow.path, content, expected_hash=None)], user=user)
    except Conflict as exc:
        if "already exists" in exc.message:
            raise exists from exc
        raise
    return await get(db, workflow_id)
