"""Runs one execution: claim it or mark it running, run it, store the outcome, and announce it
when it came through the queue."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from typing import TYPE_CHECKING

from bifrost.events import EventBus
from bifrost.names import execution_channel
from bifrost.runtime.protocol import ExecutionOutcome, ExecutionRequest, ExecutionStatus
from bifrost.store import executions
from bifrost.store.db import Database

if TYPE_CHECKING:
    from bifrost.worker.executor import Executor

log = logging.getLogger(__name__)

MARK_RUNNING_AFTER_S = 0.05


class Runner:
    """Runs what the queue brings (:meth:`handle`) and what the API of the same process hands
    over directly (:meth:`start_here`); :attr:`running` is what it has in hand, for the reaper."""

    def __init__(
        self,
        db: Database,
        executor: Executor,
        events: EventBus,
        worker_id: str,
        *,
        check_pending: bool = False,
    ) -> None:
        self.db = db
        self.executor = executor
        self.events = events
        self.worker_id = worker_id
        # With a remote queue the API may give up on a slow dispatch and close the run while the
        # task still reaches a worker later: such a run must not start. The worker then claims
        # each run (pending -> running, one conditional UPDATE) before it starts it.
        self.check_pending = check_pending
        self.running: set[str] = set()
        self._here: set[asyncio.Task[ExecutionOutcome]] = set()

    async def handle(self, request: ExecutionRequest) -> ExecutionOutcome:
        """A run from the queue: its outcome is recorded, then announced to whoever waits."""
        self.running.add(request.execution_id)
        try:
            if not self.check_pending:
                outcome = await self._run_marking(request)
            elif await executions.claim(self.db, request.execution_id, self.worker_id):
                outcome = await self._run(request)  # claimed: the row says "running" already
            else:
                return self._not_started(request)
            await self._record(outcome)
            await self.events.publish(
                execution_channel(request.execution_id), dataclasses.asdict(outcome)
            )
            return outcome
        finally:
            self.running.discard(request.execution_id)

    def start_here(self, request: ExecutionRequest) -> asyncio.Task[ExecutionOutcome] | None:
        """Start a run the API of this process has just recorded, if a slot is free now (None:
        queue it). No queue, no claim (nothing else can take it) and no announcement (the API
        awaits the task): one statement to record it, as in embedded mode."""
        if not self.executor.has_free_slot():
            return None
        task = asyncio.create_task(self._run_here(request))
        self._here.add(task)
        task.add_done_callback(self._here.discard)
        return task

    async def _run_here(self, request: ExecutionRequest) -> ExecutionOutcome:
        self.running.add(request.execution_id)
        try:
            outcome = await self._run_marking(request)
            await self._record(outcome)
            return outcome
        finally:
            self.running.discard(request.execution_id)

    async def drain(self, grace_s: float | None) -> None:
        """Let the runs started here finish, for up to ``grace_s`` (None: however long) as a
        queued run would; those still going then are stopped (their rows are closed once this
        worker is gone)."""
        if not self._here:
            return
        _done, going = await asyncio.wait(set(self._here), timeout=grace_s)
        if going:
            log.warning("%d runs still going after %s s; stopping them", len(going), grace_s)
            for task in going:
                task.cancel()
            await asyncio.gather(*going, return_exceptions=True)

    async def _record(self, outcome: ExecutionOutcome) -> None:
        try:
            await executions.finish(self.db, outcome, self.worker_id)
        except Exception:  # boundary: the waiting request still gets the outcome; the row is
            # closed by worker/reaper.py (pending: once no queue holds it; running: by its worker)
            log.exception("could not record the outcome of execution %s", outcome.execution_id)

    def _not_started(self, request: ExecutionRequest) -> ExecutionOutcome:
        log.warning(
            "execution %s was closed or taken before it started; not running it",
            request.execution_id,
        )
        return self._failed(request, "DispatchError", "closed before it started")

    @staticmethod
    def _failed(request: ExecutionRequest, kind: str, message: str) -> ExecutionOutcome:
        return ExecutionOutcome(
            execution_id=request.execution_id,
            status=ExecutionStatus.FAILED.value,
            error={"type": kind, "message": message, "traceback": ""},
            generation=request.generation,
        )

    async def _run_marking(self, request: ExecutionRequest) -> ExecutionOutcome:
        run = asyncio.ensure_future(self._run(request))
        # Most runs finish in milliseconds; only a longer one is worth a "running" write.
        done, _ = await asyncio.wait({run}, timeout=MARK_RUNNING_AFTER_S)
        if not done:
            try:
                await executions.mark_running(self.db, request.execution_id, self.worker_id)
            except Exception as exc:  # boundary: a run nothing records must not go on unseen
                log.exception("could not mark execution %s running", request.execution_id)
                run.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await run
                return self._failed(request, "DatabaseError", f"could not record the run: {exc}")
        return await run

    async def _run(self, request: ExecutionRequest) -> ExecutionOutcome:
        try:
            return await self.executor.run(request)
        except Exception as exc:  # boundary: the executor failed, not the user's code
            log.exception("execution %s could not run", request.execution_id)
            return self._failed(request, type(exc).__name__, f"worker error: {exc}")
