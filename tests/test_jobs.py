"""Job records: what a job reports is published on its channel and kept, bounded, in its row."""

from __future__ import annotations

import asyncio

import pytest

from bifrost.context import open_context
from bifrost.errors import Conflict, InvalidInput, NotFound
from bifrost.jobs.progress import output, progress
from bifrost.jobs.runner import JobRun, JobRunner, Jobs, raise_for_failure
from bifrost.names import JobStatus, job_channel
from bifrost.roles.shared import open_transport
from bifrost.store import jobs as records
from tests.conftest import Backend


async def test_progress_output_and_outcome_are_recorded(backend: Backend) -> None:
    async def chatty(job: JobRun) -> dict:
        await job.report(progress("build", 1, 2, "wheel", path="a/b.py"))
        for index in range(2000):
            await job.report(output(f"line {index:04d} " + "x" * 40))
        return {"echo": job.params["word"]}

    async def broken(job: JobRun) -> dict:
        raise InvalidInput("the requirement is not on the index")

    async with open_context(backend.settings) as ctx:
        transport = open_transport(ctx)
        runner = JobRunner(ctx.db, ctx.events, "s1", {"chatty": chatty, "broken": broken})
        consumer = transport.jobs.consumer(runner.queue_handler(), 2)
        await consumer.start()
        jobs = Jobs(ctx.db, ctx.events, transport.jobs)
        try:
            async with ctx.events.subscribe(job_channel("j1")) as inbox:
                job = await jobs.run(
                    "chatty", {"word": "hi"}, job_id="j1", created_by="ada", wait_s=60
                )
                events = [await asyncio.wait_for(inbox.get(), 10)]
                while events[-1]["type"] != "done":
                    events.append(await asyncio.wait_for(inbox.get(), 10))
            assert raise_for_failure(job) == {"echo": "hi"}
            assert (job.status, job.created_by, job.runner) == (JobStatus.SUCCESS, "ada", "s1")
            assert job.progress == {
                "phase": "build",
                "current": 1,
                "total": 2,
                "path": "a/b.py",
                "message": "wheel",
            }
            assert len(job.log) <= records.LOG_LIMIT and job.log.endswith(
                "line 1999 " + "x" * 40 + "\n"
            )
            assert events[0]["type"] == "progress" and events[-1] == {
                "type": "done",
                "ok": True,
                "echo": "hi",
            }
            # Every event arrives, in order, though they go out in batches.
            lines = [event["line"] for event in events[1:-1]]
            assert lines == [f"line {index:04d} " + "x" * 40 for index in range(2000)]

            failed = await jobs.run("broken", {}, job_id="j2", created_by=None, wait_s=60)
            assert failed.status is JobStatus.FAILED and failed.error["type"] == "InvalidInput"
            with pytest.raises(InvalidInput) as refused:
                raise_for_failure(failed)
            assert "not on the index" in refused.value.message
        finally:
            await consumer.drain(5)
            await transport.close()


async def test_a_job_nobody_runs_comes_back_unfinished(backend: Backend) -> None:
    async with open_context(backend.settings) as ctx:
        transport = open_transport(ctx)  # no scheduler consumes its job queue
        try:
            jobs = Jobs(ctx.db, ctx.events, transport.jobs)
            job = await jobs.run("chatty", {}, job_id="j3", created_by=None, wait_s=0.3)
            assert job.status is JobStatus.PENDING and job.started_at is None
            with pytest.raises(Conflict):
                await jobs.start("chatty", {}, job_id="j3", created_by=None)
            with pytest.raises(NotFound):
                await jobs.get("nope")
        finally:
            await transport.close()
