"""Work queues between roles: SAQ on Redis when distributed, an in-process queue when embedded.

One queue carries one kind of task (executions, jobs). Both halves of the SAQ job protocol live
here, so nothing else touches SAQ: :meth:`SaqQueue.put` enqueues ``Job(<function>,
kwargs={<argument>: payload})`` and :meth:`SaqQueue.consumer` registers the job function that
hands the payload back to the role's handler. :meth:`state` lets a reaper tell a task still
waiting or running from one the queue has lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis
from saq import Job, Worker
from saq.job import Status
from saq.queue.redis import RedisQueue

log = logging.getLogger(__name__)
SAQ_STOP_WARNING = "Some tasks did not finish within the shutdown grace period"


class _DrainedStop(logging.Filter):
    """SAQ warns at every stop that some tasks did not finish: :meth:`SaqConsumer.drain` has
    let every job finish by then (burst mode), so what SAQ cancels are its own idle upkeep
    loops, and an operator would read the warning as lost work."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(SAQ_STOP_WARNING)


logging.getLogger("saq").addFilter(_DrainedStop())

Handler = Callable[[dict[str, Any]], Awaitable[Any]]
# Awaited before each take: a consumer takes a task only once its worker could start it now (the
# worker of `bifrost up` also runs its own API's runs, which no queue sees).
Ready = Callable[[], Awaitable[None]]


class Presence(enum.Enum):
    WAITING = "waiting"  # queued, not taken yet
    ACTIVE = "active"  # a consumer has it
    GONE = "gone"  # finished, failed, or never known: nothing will run it any more


@dataclass(frozen=True)
class TaskState:
    presence: Presence
    started_at: float | None = None  # epoch seconds, when ACTIVE


class Consumer(Protocol):
    async def start(self) -> None: ...

    async def drain(self, grace_s: float) -> None:
        """Take no new task; let running ones finish for up to ``grace_s``, then stop."""
        ...


class WorkQueue(Protocol):
    async def put(self, key: str, payload: dict[str, Any], *, timeout_s: int) -> None: ...

    async def state(self, key: str) -> TaskState: ...

    def consumer(
        self, handler: Handler, concurrency: int, ready: Ready | None = None
    ) -> Consumer: ...

    async def close(self) -> None: ...


# ---- distributed: SAQ ------------------------------------------------------------------------


class _UnannouncedQueue(RedisQueue):
    """SAQ publishes every change of a job's status on a channel named after the job, for its
    own listeners (``Job.refresh``, ``Queue.apply``, its web UI); Bifrost never listens there
    (an execution's outcome comes on ``execution:<id>``, a job's on ``job:<id>``), so those two
    PUBLISHes per task (started, finished) are not sent."""

    async def notify(self, job: Job) -> None:
        return None


class SaqQueue:
    """``function`` and ``argument`` are the wire names of the job (``execute(request=...)``)."""

    def __init__(self, client: aioredis.Redis, name: str, function: str, argument: str) -> None:
        self.queue = _UnannouncedQueue(client, name=name)
        self.function = function
        self.argument = argument

    async def put(self, key: str, payload: dict[str, Any], *, timeout_s: int) -> None:
        # retries=1 is one attempt: a task that failed is never run twice.
        job = Job(
            self.function, kwargs={self.argument: payload}, key=key, timeout=timeout_s, retries=1
        )
        await self.queue.enqueue(job)

    async def state(self, key: str) -> TaskState:
        job = await self.queue.job(key)
        if job is None or job.status in (Status.COMPLETE, Status.FAILED, Status.ABORTED):
            return TaskState(Presence.GONE)
        if job.status in (Status.ACTIVE, Status.ABORTING):
            return TaskState(Presence.ACTIVE, job.started / 1000 if job.started else None)
        return TaskState(Presence.WAITING)

    def consumer(
        self, handler: Handler, concurrency: int, ready: Ready | None = None
    ) -> SaqConsumer:
        return SaqConsumer(self, handler, concurrency, ready)

    async def close(self) -> None:
        await self.queue.disconnect()


class _ReadyWorker(Worker):
    """SAQ's worker, waiting for ``ready`` before each dequeue: a task it takes then starts at
    once, instead of waiting for a slot (its timeout running) while another worker is idle."""

    ready: Ready | None = None

    async def process(self) -> bool:
        if self.ready is not None:
            await self.ready()
        return await super().process()


class SaqConsumer:
    def __init__(
        self, queue: SaqQueue, handler: Handler, concurrency: int, ready: Ready | None = None
    ) -> None:
        argument = queue.argument

        async def job_function(ctx: dict, **kwargs: Any) -> Any:
            return await handler(kwargs[argument])

        self.worker = _ReadyWorker(
            queue.queue,
            functions=[(queue.function, job_function)],
            concurrency=concurrency,
            dequeue_timeout=1.0,  # idle waits end within a second, so a drain is not held up
        )
        self.worker.SIGNALS = []  # the hosting process (uvicorn or the CLI) owns signals
        self.worker.ready = ready
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.worker.start())

    async def drain(self, grace_s: float) -> None:
        """SAQ's "burst" mode stops each consumer loop after its current job (or its idle wait
        of at most a second), and the worker stops itself once the last loop has ended."""
        self.worker.burst = True
        self.worker.burst_condition_met = True
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace_s + 2)
        except TimeoutError:
            log.warning("tasks still running after %s s; stopping them", grace_s)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


# ---- embedded: in-process --------------------------------------------------------------------


class LocalQueue:
    """Embedded mode: the roles share one process and one event loop. Tasks put before the
    consumer starts wait for it."""

    def __init__(self) -> None:
        self._waiting: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._keys: set[str] = set()
        self._active: dict[str, float] = {}

    async def put(self, key: str, payload: dict[str, Any], *, timeout_s: int) -> None:
        self._keys.add(key)
        await self._waiting.put((key, payload))

    async def state(self, key: str) -> TaskState:
        if key in self._active:
            return TaskState(Presence.ACTIVE, self._active[key])
        return TaskState(Presence.WAITING if key in self._keys else Presence.GONE)

    def consumer(
        self, handler: Handler, concurrency: int, ready: Ready | None = None
    ) -> LocalConsumer:
        return LocalConsumer(self, handler, concurrency, ready)

    async def next(self) -> tuple[str, dict[str, Any]]:
        return await self._waiting.get()

    async def run(self, key: str, payload: dict[str, Any], handler: Handler) -> None:
        self._keys.discard(key)
        self._active[key] = time.time()
        try:
            await handler(payload)
        except Exception:  # boundary: one failed task must not stop the consumer
            log.exception("task %s failed", key)
        finally:
            del self._active[key]

    async def close(self) -> None:
        return None


class LocalConsumer:
    def __init__(
        self, queue: LocalQueue, handler: Handler, concurrency: int, ready: Ready | None = None
    ) -> None:
        self.queue = queue
        self.handler = handler
        self.ready = ready
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task] = set()
        self._reader: asyncio.Task | None = None

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            await self._slots.acquire()
            try:
                if self.ready is not None:
                    await self.ready()
                key, payload = await self.queue.next()
            except asyncio.CancelledError:
                self._slots.release()
                raise
            task = asyncio.create_task(self._run(key, payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, key: str, payload: dict[str, Any]) -> None:
        try:
            await self.queue.run(key, payload, self.handler)
        finally:
            self._slots.release()

    async def drain(self, grace_s: float) -> None:
        """Embedded mode waits for every task it took, without the grace limit (there is no
        other process to hand them to)."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
