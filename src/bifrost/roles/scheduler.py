"""The scheduler role: runs jobs (package installs and removals, GitHub syncs, the other sync
targets) from the job queue, and automatic sync (``bifrost.sync.daemon``, when
``BIFROST_SYNC_AUTO``: one scheduler leads it at a time).

Each job kind has a handler assembled here from the context; the handlers get the narrow pieces
they use. Schedulers announce themselves like workers, so a job whose scheduler died is closed as
failed (``RunnerLost``) by any live scheduler, and a pending job whose queued task is gone as
``JobLost``.
"""

from __future__ import annotations

from typing import Any

from bifrost.context import Context
from bifrost.jobs.runner import JobHandler, JobRun, JobRunner
from bifrost.names import GITHUB_SYNC_JOB, INSTALL_PACKAGE_JOB, REMOVE_PACKAGE_JOB, SYNC_JOB
from bifrost.roles.shared import Transport, package_service, process_id, protect_process
from bifrost.store import jobs as records
from bifrost.sync import github as github_target
from bifrost.sync import jobs as sync_jobs
from bifrost.sync.daemon import SyncDaemon
from bifrost.worker.heartbeat import Heartbeat
from bifrost.worker.queue import Consumer
from bifrost.worker.reaper import LOST_JOB, Reaper, close_lost

CONCURRENCY = 4  # jobs one scheduler runs at once (package edits queue on a lock anyway)


def handlers(ctx: Context, transport: Transport, runner: str) -> dict[str, JobHandler]:
    packages = package_service(ctx, transport)

    async def install(job: JobRun) -> dict[str, Any]:
        requirement = job.params["requirement"]
        body = await packages.install(requirement, user=job.created_by, report=job.report)
        return {"job_id": job.id, **body}

    async def remove(job: JobRun) -> dict[str, Any]:
        body = await packages.remove(job.params["name"], user=job.created_by, report=job.report)
        return {"job_id": job.id, **body}

    return {
        INSTALL_PACKAGE_JOB: install,
        REMOVE_PACKAGE_JOB: remove,
        GITHUB_SYNC_JOB: github_target.handler(ctx),
        SYNC_JOB: sync_jobs.handler(ctx, runner),
    }


class SchedulerRole:
    def __init__(
        self, ctx: Context, transport: Transport, *, scheduler_id: str | None = None
    ) -> None:
        self.ctx = ctx
        self.transport = transport
        self.id = scheduler_id or process_id()
        self.heartbeat: Heartbeat | None = None
        self._consumer: Consumer | None = None
        self._reaper: Reaper | None = None
        self.daemon: SyncDaemon | None = None

    async def start(self) -> None:
        protect_process()
        ctx = self.ctx
        self.heartbeat = Heartbeat(self.transport.schedulers, {"id": self.id})
        await self.heartbeat.start()
        if ctx.redis is None:
            # This process is the only scheduler: what a previous one left unfinished is lost.
            await records.fail_abandoned(ctx.db, None)
        runner = JobRunner(ctx.db, ctx.events, self.id, handlers(ctx, self.transport, self.id))
        self._consumer = self.transport.jobs.consumer(runner.queue_handler(), CONCURRENCY)
        await self._consumer.start()
        self._reaper = Reaper(
            self._sweep, ctx.settings.reap_interval_s, "jobs whose scheduler or queued task is gone"
        )
        await self._reaper.start()
        if ctx.settings.sync_auto:
            self.daemon = SyncDaemon(ctx, self.id)
            await self.daemon.start()

    async def _sweep(self) -> int:
        return await close_lost(
            self.ctx.db,
            records,
            self.transport.schedulers,
            self.id,
            self.transport.jobs,
            min_age_s=self.ctx.settings.reap_interval_s,
            message=LOST_JOB,
        )

    async def stop(self) -> None:
        if self.daemon is not None:
            await self.daemon.stop()
        if self._consumer is not None:
            await self._consumer.drain(self.ctx.settings.worker_shutdown_grace_s)
        if self._reaper is not None:
            await self._reaper.stop()
        if self.heartbeat is not None:
            await self.heartbeat.stop()
