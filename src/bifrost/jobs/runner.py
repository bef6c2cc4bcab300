"""Running jobs: the start side (record, then queue) and the scheduler side (claim, run, record).

A job's record is the truth: the queue only carries its id. While it runs, its progress and the
tail of its output are published on ``job:<id>`` and saved to the record at most every
``SAVE_EVERY_S``; the final ``done`` event follows the record's last write, so whoever waits on the
channel and then reads ``GET /api/jobs/{id}`` sees the outcome. Every event and error is scrubbed
of secrets (``bifrost.secrets.scrub``) before it is published or saved: a handler that lets a
token slip into a message leaks it nowhere.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bifrost.errors import BifrostError, Inconsistent
from bifrost.events import EventBus
from bifrost.jobs import progress as events_
from bifrost.names import JobStatus, job_channel
from bifrost.secrets import scrub
from bifrost.store import jobs as records
from bifrost.store.db import Database
from bifrost.store.models import Job
from bifrost.worker.queue import Handler, WorkQueue

log = logging.getLogger(__name__)

SAVE_EVERY_S = 1.0
JOB_TIMEOUT_S = 3600  # the queue gives up on a job after this long
WAIT_CHECK_S = 5.0  # a waiter re-reads the record this often, in case an event was lost


@dataclass
class JobRun:
    """What a job's handler gets: its record's fields and a way to report progress."""

    id: str
    kind: str
    params: dict[str, Any]
    created_by: str | None
    report: Callable[[dict[str, Any]], Awaitable[None]]


JobHandler = Callable[[JobRun], Awaitable[dict[str, Any]]]


class Jobs:
    """The start side, used by the API: record a job, queue it, optionally wait for it."""

    def __init__(self, db: Database, events: EventBus, queue: WorkQueue) -> None:
        self.db = db
        self.events = events
        self.queue = queue

    async def start(
        self, kind: str, params: dict[str, Any], *, job_id: str, created_by: str | None
    ) -> Job:
        job = await records.create(self.db, job_id, kind, params, created_by=created_by)
        await self.queue.put(job.id, {"job_id": job.id}, timeout_s=JOB_TIMEOUT_S)
        return job

    async def run(
        self,
        kind: str,
        params: dict[str, Any],
        *,
        job_id: str,
        created_by: str | None,
        wait_s: float,
    ) -> Job:
        """Start the job and return its record once finished, or after ``wait_s`` (unfinished:
        no scheduler took it, or it is still running)."""
        deadline = time.monotonic() + wait_s
        async with self.events.subscribe(job_channel(job_id, kind)) as inbox:
            await self.start(kind, params, job_id=job_id, created_by=created_by)
            while time.monotonic() < deadline:
                try:
                    event = await asyncio.wait_for(inbox.get(), WAIT_CHECK_S)
                except TimeoutError:
                    event = None
                if event is None or event.get("type") == "done":
                    job = await records.get(self.db, job_id)
                    if finished(job):
                        return job
        return await records.get(self.db, job_id)

    async def get(self, job_id: str) -> Job:
        return await records.get(self.db, job_id)


def finished(job: Job) -> bool:
    return job.status in (JobStatus.SUCCESS, JobStatus.FAILED)


def raise_for_failure(job: Job) -> dict[str, Any]:
    """A finished job's result, or its error raised as the request's answer."""
    if job.status is JobStatus.SUCCESS:
        return job.result or {}
    error = job.error or {}
    raise _ERRORS.get(error.get("type"), BifrostError)(
        error.get("message") or f"job {job.id} failed"
    )


def _domain_errors(cls: type[BifrostError]) -> dict[str, type[BifrostError]]:
    found = {cls.__name__: cls}
    for sub in cls.__subclasses__():
        found.update(_domain_errors(sub))
    return found


# A failed job's record names its domain error, so the request that waited answers as if it had
# run the job itself (api/errors.py gives the status); anything else is a plain failure (500).
_ERRORS = _domain_errors(BifrostError)


class JobRunner:
    """The scheduler side: run one queued job with the handler registered for its kind."""

    def __init__(
        self, db: Database, events: EventBus, runner_id: str, handlers: dict[str, JobHandler]
    ) -> None:
        self.db = db
        self.events = events
        self.runner_id = runner_id
        self.handlers = handlers

    def queue_handler(self) -> Handler:
        async def handle(payload: dict[str, Any]) -> None:
            await self.run(payload["job_id"])

        return handle

    async def run(self, job_id: str) -> None:
        if not await records.mark_running(self.db, job_id, self.runner_id):
            log.info("job %s is not pending any more; skipped", job_id)
            return
        job = await records.get(self.db, job_id)
        report = _Reporter(self.db, self.events, job_id, job.kind)
        result = error = None
        try:
            handler = self.handlers.get(job.kind)
            if handler is None:
                raise Inconsistent(f"no handler for jobs of kind {job.kind!r}")
            run = JobRun(job.id, job.kind, job.params, job.created_by, report)
            result = await handler(run)
        except BifrostError as exc:
            error = {"type": type(exc).__name__, "message": scrub(exc.message)}
        except Exception as exc:  # boundary: a failed job is recorded, never raised further
            log.exception("job %s (%s) failed", job_id, job.kind)
            error = {"type": type(exc).__name__, "message": scrub(repr(exc))}
        await records.finish(
            self.db, job_id, result=result, error=error, progress=report.progress, log=report.log
        )
        done = events_.done(result, error["message"] if error else None)
        await report.publish(done)
        await report.sent()


class _Reporter:
    """Publishes every event, in order, without making the job wait for each: events queued
    while one batch is on its way go out together in the next (one round trip to Redis for a
    thousand files' progress); keeps the log's tail and saves it now and then."""

    def __init__(self, db: Database, events: EventBus, job_id: str, kind: str) -> None:
        self.db = db
        self.events = events
        self.job_id = job_id
        self.channel = job_channel(job_id, kind)
        self.log = ""
        self.progress: dict[str, Any] | None = None
        self._saved_at = time.monotonic()
        self._outbox: list[dict[str, Any]] = []
        self._sender: asyncio.Task[None] | None = None

    async def __call__(self, event: dict[str, Any]) -> None:
        event = {k: scrub(v) if isinstance(v, str) else v for k, v in event.items()}
        if event.get("type") == "output":
            self.log = records.bounded(self.log + event["line"] + "\n")
        elif event.get("type") == "progress":
            self.progress = {k: v for k, v in event.items() if k != "type"}
        await self.publish(event)
        if time.monotonic() - self._saved_at >= SAVE_EVERY_S:
            self._saved_at = time.monotonic()
            try:
                await records.save_progress(self.db, self.job_id, self.progress, self.log)
            except Exception as exc:  # progress is best effort; the outcome is saved at the end
                log.debug("job progress not saved: %s", exc)

    async def publish(self, event: dict[str, Any]) -> None:
        self._outbox.append(event)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.ensure_future(self._send())

    async def _send(self) -> None:
        while self._outbox:
            batch, self._outbox = self._outbox, []
            try:
                await self.events.publish_many(self.channel, batch)
            except Exception as exc:  # a lost event must never fail a job
                log.debug("%d job events lost: %s", len(batch), exc)

    async def sent(self) -> None:
        """Wait until every event published so far has gone out."""
        if self._sender is not None:
            await self._sender
