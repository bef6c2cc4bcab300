"""Handles one execution job: mark it running, run it, store the outcome, announce it."""

from __future__ import annotations

import asyncio
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

    async def handle(self, request: ExecutionRequest) -> ExecutionOutcome:
        if self.check_pending:
            if not await executions.claim(self.db, request.execution_id, self.worker_id):
                log.warning(
                    "execution %s was closed or taken before it started; not running it",
                    request.execution_id,
                )
                return ExecutionOutcome(
                    execution_id=request.execution_id,
                    status=ExecutionStatus.FAILED.value,
                    error={
                        "type": "DispatchError",
                        "message": "closed before it started",
                        "traceback": "",
                    },
                    generation=request.generation,
                )
            outcome = await self._run(request)  # claimed: the row says "running" already
        else:
            outcome = await self._run_marking(request)
        try:
            await executions.finish(self.db, outcome, self.worker_id)
        except Exception:  # boundary: the waiting request still gets the outcome; a row left
            # pending (a run under 50 ms) is closed by worker/reaper.py once the queue let it go
            log.exception("could not record the outcome of execution %s", request.execution_id)
        await self.events.publish(
            execution_channel(request.execution_id), dataclasses.asdict(outcome)
        )
        return outcome

    async def _run_marking(self, request: ExecutionRequest) -> ExecutionOutcome:
        run = asyncio.ensure_future(self._run(request))
        # Most runs finish in milliseconds; only a longer one is worth a "running" write.
        done, _ = await asyncio.wait({run}, timeout=MARK_RUNNING_AFTER_S)
        if not done:
            await executions.mark_running(self.db, request.execution_id, self.worker_id)
        return await run

    async def _run(self, request: ExecutionRequest) -> ExecutionOutcome:
        try:
            return await self.executor.run(request)
        except Exception as exc:  # boundary: the executor failed, not the user's code
            log.exception("execution %s could not run", request.execution_id)
            return ExecutionOutcome(
                execution_id=request.execution_id,
                status=ExecutionStatus.FAILED.value,
                error={
                    "type": type(exc).__name__,
                    "message": f"worker error: {exc}",
                    "traceback": "",
                },
                generation=request.generation,
            )
