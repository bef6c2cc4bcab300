"""Execution records: created at dispatch (pinning the generation), finished by the worker."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import ColumnElement, bindparam, insert, select, update

from bifrost.errors import NotFound
from bifrost.runtime.protocol import ExecutionOutcome, ExecutionStatus
from bifrost.store.db import Database
from bifrost.store.models import Execution, Workflow, Workspace, new_id, utcnow
from bifrost.store.paging import Order, Page, fetch_page
from bifrost.store.workflows import require_active

T = TypeVar("T")
UNFINISHED = (ExecutionStatus.PENDING.value, ExecutionStatus.RUNNING.value)
ORDER = Order("executions", (Execution.created_at, Execution.id), descending=True)
GENERATION = select(Workspace.generation).where(Workspace.id == 1).scalar_subquery()


class RecentWorkflows:
    """Workflows this process recently ran, each with the generation it was read at.

    A unit of work that changes a workflow row (a save, a delete, a rename) bumps the workspace
    generation in the same transaction, and the changes made outside one (a replacement, an
    activation) set its ``updated_at``: while both are what they were when the row was read, it is
    still the row, and :func:`create` records a run in one statement that checks exactly that."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._rows: OrderedDict[str, tuple[Workflow, int]] = OrderedDict()

    def get(self, workflow_id: str) -> tuple[Workflow, int] | None:
        found = self._rows.get(workflow_id)
        if found is not None:
            self._rows.move_to_end(workflow_id)
        return found

    def put(self, workflow: Workflow, generation: int) -> None:
        self._rows[workflow.id] = (workflow, generation)
        self._rows.move_to_end(workflow.id)
        while len(self._rows) > self.size:
            self._rows.popitem(last=False)

    def drop(self, workflow_id: str) -> None:
        self._rows.pop(workflow_id, None)


async def create(
    db: Database,
    workflow_id: str,
    parameters: dict,
    accept: Callable[[Workflow], T],
    recent: RecentWorkflows | None = None,
) -> tuple[Execution, T]:
    """Record a pending run pinned to the current generation, so it sees every earlier save.

    ``accept`` sees the workflow before the row is added: what it raises refuses the run with
    nothing recorded, what it returns comes back with the row. With ``recent`` a workflow run
    before costs one statement: an INSERT that takes effect only if the workflow is active and the
    generation is still the one its cached row was read at (else the full read-then-insert
    transaction runs, and refreshes the cache)."""
    cached = recent.get(workflow_id) if recent is not None else None
    if cached is not None:
        workflow, generation = cached
        try:
            accepted = accept(workflow)
        except Exception:  # a refusal is judged on a fresh read, never on a cached row
            accepted = None
        else:
            execution = _new(workflow, parameters, generation)
            if await _insert_if_current(db, execution, workflow.updated_at):
                return execution, accepted
        recent.drop(workflow_id)
    async with db.write() as session:
        found = (
            await session.execute(select(Workflow, GENERATION).where(Workflow.id == workflow_id))
        ).first()
        if found is None:
            raise NotFound(f"no workflow has id {workflow_id}")
        workflow, generation = found
        require_active(workflow)
        accepted = accept(workflow)
        execution = _new(workflow, parameters, generation)
        session.add(execution)
    if recent is not None:
        recent.put(workflow, generation)
    return execution, accepted


def _new(workflow: Workflow, parameters: dict, generation: int) -> Execution:
    return Execution(
        id=new_id(),
        workflow_id=workflow.id,
        path=workflow.path,
        function_name=workflow.function_name,
        parameters=parameters,
        generation=generation,
        status=ExecutionStatus.PENDING.value,
        logs="",
        created_at=utcnow(),
    )


# The hot path's three statements are built once, with bound parameters: building and keying a
# statement per call costs more Python time than SQLite takes to run it.
_COLUMNS = ("id", "workflow_id", "path", "function_name", "parameters", "generation")
_COLUMNS += ("status", "logs", "created_at")
_TABLE = Execution.__table__
_INSERT_IF_CURRENT = insert(Execution).from_select(
    list(_COLUMNS),
    select(
        *[bindparam(f"v_{name}", type_=_TABLE.c[name].type).label(name) for name in _COLUMNS]
    ).where(
        select(Workflow.id)
        .where(
            Workflow.id == bindparam("v_workflow_id"),
            Workflow.is_active.is_(True),
            # A replacement (store/replacements.py) rewrites the row without a new generation.
            Workflow.updated_at == bindparam("v_updated_at", type_=Workflow.updated_at.type),
        )
        .exists(),
        bindparam("v_generation") == GENERATION,
    ),
)
_START = (
    update(Execution)
    .where(
        Execution.id == bindparam("b_id", type_=_TABLE.c.id.type),
        Execution.status == ExecutionStatus.PENDING.value,
    )
    .values(
        status=ExecutionStatus.RUNNING.value,
        started_at=bindparam("b_started_at", type_=_TABLE.c.started_at.type),
        worker=bindparam("b_worker", type_=_TABLE.c.worker.type),
    )
)
_RECORDED = ("status", "result", "logs", "error", "ran_generation", "duration_ms")
_RECORDED += ("finished_at", "started_at", "worker")
_FINISH = (
    update(Execution)
    # A run already closed (a dispatch the API gave up on) keeps what the user was told.
    .where(
        Execution.id == bindparam("b_id", type_=_TABLE.c.id.type),
        Execution.status.in_(UNFINISHED),
    )
    .values({name: bindparam(f"b_{name}", type_=_TABLE.c[name].type) for name in _RECORDED})
)


async def _insert_if_current(db: Database, execution: Execution, updated_at: datetime) -> bool:
    """INSERT ... SELECT ... WHERE the workflow is active, its row unchanged (``updated_at``) and
    the generation unchanged."""
    values = {f"v_{name}": getattr(execution, name) for name in _COLUMNS}
    values["v_updated_at"] = updated_at
    return await db.statement(_INSERT_IF_CURRENT, values) == 1


async def _start(db: Database, execution_id: str, worker: str) -> int:
    values = {"b_id": execution_id, "b_started_at": utcnow(), "b_worker": worker}
    return await db.statement(_START, values)


async def mark_running(db: Database, execution_id: str, worker: str) -> None:
    await _start(db, execution_id, worker)


async def claim(db: Database, execution_id: str, worker: str) -> bool:
    """Mark a queued run ``running`` by ``worker`` if it is still pending; False if it was closed
    meanwhile (the API gave up dispatching it) or another worker has it: it must not start.

    One statement both checks and claims, so a run costs no separate read."""
    return await _start(db, execution_id, worker) == 1


async def finish(db: Database, outcome: ExecutionOutcome, worker: str) -> None:
    finished = utcnow()
    values = {
        "b_id": outcome.execution_id,
        "b_status": ExecutionStatus(outcome.status).value,
        "b_result": outcome.result,
        "b_logs": outcome.logs,
        "b_error": outcome.error,
        "b_ran_generation": outcome.generation,
        "b_duration_ms": outcome.duration_ms,
        "b_finished_at": finished,
        "b_started_at": finished - timedelta(milliseconds=outcome.duration_ms),
        "b_worker": worker,
    }
    await db.statement(_FINISH, values)


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
    return await _ids(db, ExecutionStatus.PENDING, Execution.created_at < before)


async def claimed_since(db: Database, before: datetime, worker: str) -> list[str]:
    """Ids of runs ``worker`` marked ``running`` before ``before`` and has not finished."""
    return await _ids(
        db, ExecutionStatus.RUNNING, Execution.started_at < before, Execution.worker == worker
    )


async def _ids(
    db: Database, status: ExecutionStatus, *conditions: ColumnElement[bool]
) -> list[str]:
    async with db.read() as session:
        rows = await session.scalars(
            select(Execution.id).where(Execution.status == status.value, *conditions)
        )
        return list(rows)


async def fail_lost(
    db: Database,
    execution_ids: Collection[str],
    message: str,
    status: ExecutionStatus = ExecutionStatus.PENDING,
) -> int:
    """Close runs still in ``status`` that nothing will run or record any more
    (``ExecutionLost``)."""
    if not execution_ids:
        return 0
    async with db.write() as session:
        result = await session.execute(
            update(Execution)
            .where(
                Execution.id.in_(list(execution_ids)),
                Execution.status == status.value,
            )
            .values(
                status=ExecutionStatus.FAILED.value,
                error={"type": "ExecutionLost", "message": message, "traceback": ""},
                finished_at=utcnow(),
            )
        )
    return result.rowcount or 0
