"""Wiring: which database, cache, event bus, queue and executor this process uses.

Embedded mode (no BIFROST_REDIS_URL): SQLite, the in-process cache and event bus, and a local
worker inside the API process. Distributed mode: PostgreSQL (or SQLite) with Redis for the cache,
the events and the SAQ job queue; `bifrost worker` processes run the jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from saq import Queue, Worker
from saq.queue.redis import RedisQueue

from bifrost.cache.base import ModuleCache
from bifrost.cache.local import LocalModuleCache
from bifrost.cache.redis import RedisModuleCache
from bifrost.cache.redis import connect as connect_redis
from bifrost.events import EventBus, LocalEventBus, RedisEventBus
from bifrost.packages.service import prepare_worker, requirements_listener, watch_requirements
from bifrost.runtime.protocol import CodeSource, ExecutionRequest
from bifrost.settings import Settings
from bifrost.store import executions
from bifrost.store.db import Database
from bifrost.store.files import Files
from bifrost.store.objects import LocalObjectStore
from bifrost.store.reader import StoreReader
from bifrost.worker.dispatch import Dispatcher, LocalDispatcher, QueueDispatcher, queue_name
from bifrost.worker.heartbeat import Heartbeat
from bifrost.worker.runner import Runner
from bifrost.worker.source import CacheCodeSource, ExportedCodeSource
from bifrost.workspace.paths import reserved_top_level_names

if TYPE_CHECKING:
    from bifrost.worker.executor import Executor

log = logging.getLogger(__name__)

PR_SET_DUMPABLE = 4


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Services:
    settings: Settings
    db: Database
    cache: ModuleCache
    files: Files
    events: EventBus
    dispatcher: Dispatcher | None = None
    redis: aioredis.Redis | None = None
    queue: Queue | None = None
    executor: Executor | None = None
    heartbeat: Heartbeat | None = None
    queue_worker: Worker | None = None
    queue_task: asyncio.Task | None = None
    _tasks: list[asyncio.Task] = field(default_factory=list)

    async def close(self) -> None:
        if self.queue_worker is not None:
            await drain(self.queue_worker, self.queue_task, self.settings.worker_shutdown_grace_s)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if isinstance(self.dispatcher, LocalDispatcher):
            await self.dispatcher.drain()
        if self.heartbeat is not None:
            await self.heartbeat.stop()
        if self.executor is not None:
            await self.executor.stop()
        await self.events.close()
        if self.queue is not None:
            await self.queue.disconnect()
        await self.cache.close()
        await self.db.close()


def protect_process() -> None:
    """Make this process non-dumpable: other processes of the same account (an execution, a
    package's build script) then cannot read its environment or memory, which hold credentials."""
    with contextlib.suppress(AttributeError, OSError):  # no such call on this libc
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0)


async def open_services(settings: Settings, *, with_worker: bool) -> Services:
    protect_process()
    db = Database(settings)
    objects = LocalObjectStore(settings.data_dir.resolve() / "objects")
    reader = StoreReader(db, objects)
    redis_client = None
    if settings.redis_url is None:
        cache_: ModuleCache = LocalModuleCache(reader)
        events: EventBus = LocalEventBus()
    else:
        redis_client = connect_redis(settings.redis_url.get_secret_value())
        cache_ = RedisModuleCache(redis_client, reader, settings.cache_prefix)
        events = RedisEventBus(redis_client, settings.cache_prefix)
    files = Files(
        db,
        cache_,
        objects,
        max_bytes=settings.max_file_bytes,
        reserved=lambda: reserved_top_level_names([str(settings.packages_path)]),
    )
    services = Services(settings, db, cache_, files, events, redis=redis_client)
    files.listeners.append(requirements_listener(services))
    if redis_client is not None:
        services.queue = RedisQueue(redis_client, name=queue_name(settings.cache_prefix))
        services.dispatcher = QueueDispatcher(services.queue)
    if with_worker:
        await start_worker(services)
    return services


async def start_worker(services: Services) -> None:
    """Start the executor; embedded runs jobs directly, distributed consumes the SAQ queue."""
    from bifrost.sandbox import execution_policy
    from bifrost.worker.executor import Executor

    settings = services.settings
    prepared = await prepare_worker(settings, services.cache)  # packages before the hook
    source: CodeSource = CacheCodeSource(services.cache)
    sys_path = [str(settings.packages_path)]
    if not settings.virtual_imports:
        if settings.export_dir is None:
            raise ValueError(
                "BIFROST_VIRTUAL_IMPORTS=false needs BIFROST_EXPORT_DIR: the directory written by "
                "`bifrost export DIR` that executions import from instead"
            )
        log.warning("virtual imports are off: executions import from %s", settings.export_dir)
        source = ExportedCodeSource()
        sys_path.insert(0, str(settings.export_dir.resolve()))
    executor = Executor(
        source,
        root=settings.workspace_root,
        concurrency=settings.worker_concurrency,
        extra_sys_path=sys_path,
        confinement=execution_policy(settings),
        virtual=settings.virtual_imports,
        log_bytes=settings.execution_log_bytes,
        buffer_bytes=settings.execution_buffer_bytes,
    )
    await executor.start()
    services.executor = executor
    runner = Runner(services.db, executor, services.events, worker_id())
    services.heartbeat = Heartbeat(services, runner.worker_id)
    await services.heartbeat.start()
    services._tasks.append(asyncio.create_task(watch_requirements(services, prepared)))
    if services.queue is None:
        # This process is the only worker: whatever a previous one left unfinished is lost.
        await executions.fail_abandoned(services.db, None)
        services.dispatcher = LocalDispatcher(runner, settings.worker_concurrency)
        return

    async def execute(ctx: dict, *, request: dict) -> dict:
        outcome = await runner.handle(ExecutionRequest(**request))
        return {"status": outcome.status}

    worker = Worker(
        services.queue,
        functions=[("execute", execute)],
        concurrency=settings.worker_concurrency,
        dequeue_timeout=1.0,  # idle waits end within a second, so a drain is not held up
    )
    worker.SIGNALS = []  # the hosting process (uvicorn or the CLI) owns signal handling
    services.queue_worker = worker
    services.queue_task = asyncio.create_task(worker.start())
    services._tasks.append(services.queue_task)


async def drain(worker: Worker, running: asyncio.Task | None, grace_s: float) -> None:
    """Let running executions finish (up to ``grace_s``) but take no new job, then stop.

    SAQ's "burst" mode stops each consumer loop after its current job (or its idle wait of at
    most a second), and the worker stops itself once the last loop has ended."""
    worker.burst = True
    worker.burst_condition_met = True
    if running is None:
        return
    try:
        await asyncio.wait_for(asyncio.shield(running), grace_s + 2)
    except TimeoutError:
        log.warning("executions still running after %s s; stopping them", grace_s)
