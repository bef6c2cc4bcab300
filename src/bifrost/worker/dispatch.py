"""Sending executions to workers: SAQ on Redis in production, an in-process pool when embedded."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Protocol

from redis.exceptions import RedisError
from saq import Job, Queue

from bifrost.errors import Unavailable
from bifrost.runtime.protocol import ExecutionRequest
from bifrost.worker.runner import Runner

# A job outlives its execution timeout by this much before SAQ gives up on it.
JOB_GRACE_S = 60
QUEUE_DOWN = (
    "the execution queue is unavailable (Redis cannot be reached); the run was not started: "
    "try again when Redis is back"
)


class Dispatcher(Protocol):
    async def submit(self, request: ExecutionRequest) -> None:
        """Hand the run to a worker; :class:`Unavailable` when that cannot be done now."""


class LocalDispatcher:
    """Embedded mode: the worker shares the API's process and event loop."""

    def __init__(self, runner: Runner, concurrency: int) -> None:
        self.runner = runner
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task] = set()

    async def submit(self, request: ExecutionRequest) -> None:
        task = asyncio.create_task(self._run(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, request: ExecutionRequest) -> None:
        async with self._slots:
            await self.runner.handle(request)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def queue_name(prefix: str) -> str:
    return f"{prefix}executions"


class QueueDispatcher:
    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    async def submit(self, request: ExecutionRequest) -> None:
        job = Job(
            "execute",
            kwargs={"request": dataclasses.asdict(request)},
            key=request.execution_id,
            timeout=int(request.timeout_s) + JOB_GRACE_S,
            retries=1,
        )
        try:
            await self.queue.enqueue(job)
        except RedisError as exc:
            raise Unavailable(QUEUE_DOWN) from exc
