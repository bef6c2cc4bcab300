"""Handles one execution job: mark it running, run it, store the outcome, announce it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING

from bifrost.events import EventBus
from bifrost.runtime.protocol import ExecutionOutcome, ExecutionRequest
from bifrost.store import executions
from bifrost.store.db import Database

if TYPE_CHECKING:
    from bifrost.runtime.executor import Executor

log = logging.getLogger(__name__)


def execution_channel(execution_id: str) -> str:
    return f"execution:{execution_id}"


class Runner:
    def __init__(self, db: Database, executor: Executor, events: EventBus, worker_id: str) -> None:
        self.db = db
        self.executor = executor
        self.events = events
        self.worker_id = worker_id

    async def handle(self, request: ExecutionRequest) -> ExecutionOutcome:
        # Recording "running" overlaps the run itself instead of delaying it.
        running = asyncio.create_task(
            executions.mark_running(self.db, request.execution_id, self.worker_id)
        )
        try:
            outcome = await self.executor.run(request)
        except Exception as exc:  # the executor failed, not the user's code
            log.exception("execution %s could not run", request.execution_id)
            outcome = ExecutionOutcome(
                execution_id=request.execution_id,
                status="failed",
                result=None,
                logs="",
                error={
                    "type": type(exc).__name__,
                    "message": f"worker error: {exc}",
                    "traceback": "",
                },
                generation=request.generation,
                duration_ms=0.0,
            )
        await running
        await executions.finish(self.db, outcome, self.worker_id)
        await self.events.publish(
            execution_channel(request.execution_id), dataclasses.asdict(outcome)
        )
        return outcome
