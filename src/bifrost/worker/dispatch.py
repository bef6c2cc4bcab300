"""Sending executions to workers: to this process's own worker when it has a free slot and the
API waits for the outcome, otherwise over whichever work queue the deployment has."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, Protocol

from redis.exceptions import RedisError

from bifrost.errors import Unavailable
from bifrost.runtime.protocol import ExecutionOutcome, ExecutionRequest
from bifrost.worker.queue import Handler, WorkQueue

# A task outlives its execution timeout by this much before the queue gives up on it.
JOB_GRACE_S = 60
QUEUE_DOWN = (
    "the execution queue is unavailable (Redis cannot be reached); the run was not started: "
    "try again when Redis is back"
)


class Dispatcher(Protocol):
    async def submit(self, request: ExecutionRequest) -> None:
        """Hand the run to a worker; :class:`Unavailable` when that cannot be done now."""

    def start_here(self, request: ExecutionRequest) -> asyncio.Task[ExecutionOutcome] | None:
        """Run it in this process and return the task that gives its outcome, when this
        process hosts a worker with a free slot; None otherwise (then :meth:`submit` it)."""


class StartsHere(Protocol):
    """A worker in the same process (``bifrost.worker.runner.Runner``)."""

    def start_here(self, request: ExecutionRequest) -> asyncio.Task[ExecutionOutcome] | None: ...


class QueueDispatcher:
    """The enqueue side; :func:`execution_handler` is the consuming side. ``here`` is the worker
    of this process (``bifrost up``): a run it takes skips the queue, the claim and the
    announcement of its outcome, which is most of a short run's cost on Redis."""

    def __init__(self, queue: WorkQueue, here: StartsHere | None = None) -> None:
        self.queue = queue
        self.here = here

    def start_here(self, request: ExecutionRequest) -> asyncio.Task[ExecutionOutcome] | None:
        return None if self.here is None else self.here.start_here(request)

    async def submit(self, request: ExecutionRequest) -> None:
        try:
            await self.queue.put(
                request.execution_id,
                dataclasses.asdict(request),
                timeout_s=int(request.timeout_s) + JOB_GRACE_S,
            )
        except RedisError as exc:
            raise Unavailable(QUEUE_DOWN) from exc


class Handles(Protocol):
    async def handle(self, request: ExecutionRequest) -> ExecutionOutcome: ...


def execution_handler(runner: Handles) -> Handler:
    """What a worker does with one queued execution."""

    async def handle(payload: dict[str, Any]) -> dict[str, Any]:
        outcome = await runner.handle(ExecutionRequest(**payload))
        return {"status": outcome.status}

    return handle
