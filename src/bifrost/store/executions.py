"""Execution records: created at dispatch (pinning the generation), finished by the worker."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import select, update

from bifrost.errors import NotFound
from bifrost.runtime.protocol import ExecutionOutcome, ExecutionStatus
from bifrost.store.db import Database
from bifrost.store.models import Execution, Workflow, Workspace, utcnow
from bifrost.store.paging import Order, Page, fetch_page
from bifrost.store.workflows import require_active

T = TypeVar("T")
UNFINISHED = (ExecutionStatus.PENDING.value, ExecutionStatus.RUNNING.value)
ORDER = Order("executions", (Execution.created_at, Execution.id), descending=True)
GENERATION = select(Workspace.generation).where(Workspace.id == 1).scalar_subquery()


async def create(
    db: Database, workflow_id: str, parameters: dict, accept: Callable[[Workflow], T]
) -> tuple[Execution, T]:
    """Record a pending run pinned to the current generation, so it sees every earlier save.

    ``accept`` sees the workflow inside the transaction, before the row is added: what it raises
    refuses the run with nothing recorded, what it returns comes back with the row."""
    async with db.write() as session:
        found = (
            await session.execute(select(Workflow, GENERATION).where(Workflow.id == workflow_id))
        ).first()
        if found is None:
            raise NotFound(f"no workflow has id {workflow_id}")
        workflow, generation = found
        require_active(workflow)
        accepted = accept(workflow)
        execution = Execution(
            workflow_id=workflow.id,
            path=workflow.path,
            function_name=workflow.function_name,
            parameters=parameters,
            generation=generation,
            status=ExecutionStatus.PENDING.value,
            created_at=utcnow(),
        )
        session.add(execution)
    return execution, accepted


async def mark_running(db: Database, execution_id: str, worker: str) -> None:
    async with db.write() as session:
        await session.execute(
            update(Execution)
            .where(Execution.id == execution_id, Execution.status == ExecutionStatus.PENDING.value)
            .values(status=ExecutionStatus.RUNNING.value, started_at=utcnow(), worker=worker)
        )


async def finish(db: Database, outcome: ExecutionOutcome, worker: str) -> None:
    finished = utcnow()
    async with db.write() as session:
        await session.execute(
            update(Execution)
            # A run already closed (a dispatch the API gave up on) keeps what the user was told.
            .where(Execution.id == outcome.execution_id, Execution.status.in_(UNFINISHED))
            .values(
                status=ExecutionStatus(outcome.status).value,
                result=outcome.result,
                logs=outcome.logs,
                error=outcome.error,
                ran_generation=outcome.generation,
                duration_ms=outcome.duration_ms,
                finished_at=finished,
                started_at=finished - timedelta(milliseconds=outcome.duration_ms),
                worker=worker,
            )
        )


async def is_pending(db: Database, execution_id: str) -> bool:
    """Whether a queued run may still start: the API closes a run whose dispatch it gave up on."""
    async with db.read() as session:
        status = await session.scalar(select(Execution.status).where(Execution.id == execution_id))
    return status == ExecutionStatus.PENDING.value


async def get(db: Database, execution_id: str) -> Execution:
    async with db.read() as session:
        execution = await session.get(Execution, execution_id)
    if execution is None:
        raise NotFound(f"no execution has id {execution_id}")
    return execution


async def recent(
    db: Database, *, workflow_id: str | None = None, cursor: str | None = None, limit: int = 50
) -> Page[Execution]:
    """Newest first (of one workflow's runs, given ``workflow_id``); the id breaks ties between
    runs created in the same microsecond."""
    query = select(Execution)
    if workflow_id is not None:
        query = query.where(Execution.workflow_id == workflow_id)
    async with db.read() as session:
        return await fetch_page(session, query, ORDER, cursor=cursor, limit=limit)


async def fail(db: Database, execution_id: str, message: str) -> None:
    """Close a run that never reached a worker, so it does not stay pending forever."""
    async with db.write() as session:
        await session.execute(
            update(Execution)
            .where(Execution.id == execution_id, Execution.status == ExecutionStatus.PENDING.value)
            .values(
                status=ExecutionStatus.FAILED.value,
                error={"type": "DispatchError", "message": message, "traceback": ""},
                finished_at=utcnow(),
            )
        )


async def fail_abandoned(db: Database, live_workers: set[str] | None) -> int:
    """Close runs whose worker is gone, so none stays "running" forever.

    ``live_workers`` None means every worker is gone (embedded mode starting up): unfinished runs
    of a previous process can never finish."""
    unfinished = Execution.status.in_(UNFINISHED)
    if live_workers is None:
        condition = unfinished
        message = "Bifrost stopped before this execution finished"
    else:
        condition = (Execution.status == ExecutionStatus.RUNNING.value) & Execution.worker.not_in(
            live_workers
        )
        message = "the worker running this execution stopped before it finished"
    async with db.write() as session:
        result = await session.execute(
            update(Execution)
            .where(condition)
            .values(
                status=ExecutionStatus.FAILED.value,
                error={"type": "WorkerLost", "message": message, "traceback": ""},
                finished_at=utcnow(),
            )
        )
    return result.rowcount or 0


async def pending_since(db: Database, before: datetime) -> list[str]:
    """Ids of runs still pending that were recorded before ``before``."""
    async with db.read() as session:
        rows = await session.scalars(
            select(Execution.id).where(
                Execution.status == ExecutionStatus.PENDING.value, Execution.created_at < before
            )
        )
        return list(rows)


async def fail_lost(db: Database, execution_ids: Collection[str], message: str) -> int:
    """Close pending runs nothing will run or record any more (``ExecutionLost``)."""
    if not execution_ids:
        return 0
    async with db.write() as session:
        result = await session.execute(
            update(Execution)
            .where(
                Execution.id.in_(list(execution_ids)),
                Execution.status == ExecutionStatus.PENDING.value,
            )
            .values(
                status=ExecutionStatus.FAILED.value,
                error={"type": "ExecutionLost", "message": message, "traceback": ""},
                finished_at=utcnow(),
            )
        )
    return result.rowcount or 0
