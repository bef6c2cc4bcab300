"""The scheduler role: runs jobs (package installs and removals, GitHub syncs) from the job queue.

Each job kind has a handler assembled here from the context; the handlers get the narrow pieces
they use. Schedulers announce themselves like workers, so a job whose scheduler died is closed as
failed (``RunnerLost``) by any live scheduler, and a pending job whose queued task is gone as
``JobLost``.
"""

from __future__ import annotations

from typing import Any

from bifrost.context import Context
from bifrost.github.sync import GitHubSync
from bifrost.jobs.runner import JobHandler, JobRun, JobRunner
from bifrost.names import GITHUB_SYNC_JOB, INSTALL_PACKAGE_JOB, REMOVE_PACKAGE_JOB
from bifrost.roles.shared import Transport, package_service, process_id, protect_process
from bifrost.secrets import load_box
from bifrost.store import jobs as records
from bifrost.worker.heartbeat import Heartbeat
from bifrost.worker.queue import Consumer
from bifrost.worker.reaper import LOST_JOB, Reaper, close_lost

CONCURRENCY = 4  # jobs one scheduler runs at once (package edits queue on a lock anyway)


def handlers(ctx: Context, transport: Transport) -> dict[str, JobHandler]:
    packages = package_service(ctx, transport)

    async def install(job: JobRun) -> dict[str, Any]:
        requirement = job.params["requirement"]
        body = await packages.install(requirement, user=job.created_by, report=job.report)
        return {"job_id": job.id, **body}

    async def remove(job: JobRun) -> dict[str, Any]:
        body = await packages.remove(job.params["name"], user=job.created_by, report=job.report)
        return {"job_id": job.id, **body}

    sync = GitHubSync(ctx.settings, ctx.db, ctx.objects, ctx.files, load_box(ctx.settings))
    return {INSTALL_PACKAGE_JOB: install, REMOVE_PACKAGE_JOB: remove, GITHUB_SYNC_JOB: sync}


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

    async def start(self) -> None:
        protect_process()
        ctx = self.ctx
        self.heartbeat = Heartbeat(self.transport.schedulers, {"id": self.id})
        await self.heartbeat.start()
        if ctx.redis is None:
            # This process is the only scheduler: what a previous one left unfinished is lost.
            await records.fail_abandoned(ctx.db, None)
        runner = JobRunner(ctx.db, ctx.events, self.id, handlers(ctx, self.transport))
        self._consumer = self.transport.jobs.consumer(runner.queue_handler(), CONCURRENCY)
        await self._consumer.start()
        self._reaper = Reaper(
            self._sweep, ctx.settings.reap_interval_s, "jobs whose scheduler or queued task is gone"
        )
        await self._reaper.start()

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
        if self._consumer is not None:
            await self._consumer.drain(self.ctx.settings.worker_shutdown_grace_s)
        if self._reaper is not None:
            await self._reaper.stop()
        if self.heartbeat is not None:
            await self.heartbeat.stop()
