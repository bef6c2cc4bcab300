"""The worker role: runs executions taken from the execution queue.

Start order matters: packages are installed before the executor (and so the import hook and the
template) starts; the heartbeat carries the packages report from the first beat; the queue is
consumed last. Stop drains the queue first (running executions finish, up to
``BIFROST_WORKER_SHUTDOWN_GRACE_S``), then stops the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from bifrost.context import Context
from bifrost.packages.worker import RequirementsWatcher, prepare_worker
from bifrost.roles.shared import Transport, process_id, protect_process
from bifrost.runtime.protocol import CodeSource, ExecutionOutcome, ExecutionRequest
from bifrost.sandbox import execution_policy
from bifrost.settings import Settings
from bifrost.store import executions
from bifrost.worker.dispatch import execution_handler
from bifrost.worker.heartbeat import Heartbeat
from bifrost.worker.queue import Consumer
from bifrost.worker.reaper import LOST_EXECUTION, Reaper, close_lost, close_unrecorded
from bifrost.worker.runner import Runner
from bifrost.worker.source import CacheCodeSource, ExportedCodeSource

log = logging.getLogger(__name__)


class RunsExecutions(Protocol):
    """What the role needs of an executor (``bifrost.worker.executor.Executor``)."""

    async def start(self) -> None: ...

    async def run(self, request: ExecutionRequest) -> ExecutionOutcome: ...

    def has_free_slot(self) -> bool: ...

    async def free_slot(self) -> None: ...

    async def recycle(self) -> None: ...

    async def stop(self) -> None: ...


def build_executor(settings: Settings, ctx: Context) -> RunsExecutions:
    """The executor this worker's settings ask for (virtual imports, or the rollback path)."""
    from bifrost.worker.executor import Executor  # heavy: only processes that run code load it

    source: CodeSource = CacheCodeSource(ctx.cache, ctx.db)
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
    return Executor(
        source,
        root=settings.workspace_root,
        concurrency=settings.worker_concurrency,
        extra_sys_path=sys_path,
        confinement=execution_policy(settings),
        virtual=settings.virtual_imports,
        log_bytes=settings.execution_log_bytes,
        buffer_bytes=settings.execution_buffer_bytes,
    )


class WorkerRole:
    """``executor`` replaces the real one (tests about the package flow pass a counting one)."""

    def __init__(
        self,
        ctx: Context,
        transport: Transport,
        *,
        worker_id: str | None = None,
        executor: RunsExecutions | None = None,
    ) -> None:
        self.ctx = ctx
        self.transport = transport
        self.id = worker_id or process_id()
        self.executor = executor
        self.heartbeat: Heartbeat | None = None
        self._consumer: Consumer | None = None
        self._watcher: asyncio.Task | None = None
        self._reaper: Reaper | None = None
        self.runner: Runner | None = None  # what the API of this process hands runs to

    async def start(self) -> None:
        protect_process()
        ctx, settings = self.ctx, self.ctx.settings
        prepared = await prepare_worker(settings, ctx.cache)  # packages before the hook
        if self.executor is None:
            self.executor = build_executor(settings, ctx)
        await self.executor.start()
        info = {"id": self.id, "concurrency": settings.worker_concurrency}
        self.heartbeat = Heartbeat(self.transport.workers, {**info, "packages": prepared.summary()})
        await self.heartbeat.start()
        watcher = RequirementsWatcher(
            settings,
            ctx.cache,
            ctx.events,
            worker_id=self.id,
            recycle=self.executor.recycle,
            publish_report=self._publish_packages,
        )
        self._watcher = asyncio.create_task(watcher.run(prepared))
        if ctx.redis is None:
            # This process is the only worker: whatever a previous one left unfinished is lost.
            await executions.fail_abandoned(ctx.db, None)
        self.runner = Runner(
            ctx.db, self.executor, ctx.events, self.id, check_pending=ctx.redis is not None
        )
        self._consumer = self.transport.executions.consumer(
            execution_handler(self.runner),
            settings.worker_concurrency,
            ready=self.executor.free_slot,  # the API of this process may hold slots too
        )
        await self._consumer.start()
        self._reaper = Reaper(
            self._sweep, settings.reap_interval_s, "executions whose worker or queued task is gone"
        )
        await self._reaper.start()

    async def _publish_packages(self, report: dict) -> None:
        if self.heartbeat is not None:
            await self.heartbeat.report("packages", report)

    async def _sweep(self) -> int:
        min_age_s = self.ctx.settings.reap_interval_s
        lost = await close_lost(
            self.ctx.db,
            executions,
            self.transport.workers,
            self.id,
            self.transport.executions,
            min_age_s=min_age_s,
            message=LOST_EXECUTION,
        )
        running = self.runner.running if self.runner is not None else set()
        return lost + await close_unrecorded(
            self.ctx.db, self.id, running, min_age_s=min_age_s, message=LOST_EXECUTION
        )

    async def stop(self) -> None:
        # Queued runs and those this process's API handed over drain side by side, so a stop
        # takes at most the grace (embedded: no other process could take them, so no limit).
        grace_s = self.ctx.settings.worker_shutdown_grace_s
        draining = []
        if self._consumer is not None:
            draining.append(self._consumer.drain(grace_s))
        if self.runner is not None:
            draining.append(self.runner.drain(grace_s if self.ctx.redis is not None else None))
        await asyncio.gather(*draining)
        if self._reaper is not None:
            await self._reaper.stop()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watcher
        if self.heartbeat is not None:
            await self.heartbeat.stop()
        if self.executor is not None:
            await self.executor.stop()
