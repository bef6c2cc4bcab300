"""Lost work is closed: pending executions whose queued task is gone, jobs whose scheduler died.

The queues and rosters are the real ones of each back end (SAQ on Redis, or in-process); a worker
or scheduler that "died" is one whose heartbeat is not in the roster, and a task "Redis lost" is
one whose keys were deleted from Redis.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from bifrost.context import open_context
from bifrost.names import JobStatus
from bifrost.roles.scheduler import SchedulerRole
from bifrost.roles.shared import open_transport
from bifrost.roles.worker import WorkerRole
from bifrost.store import executions
from bifrost.store import jobs as records
from bifrost.worker import request as run_request
from bifrost.worker.dispatch import QueueDispatcher
from bifrost.worker.reaper import LOST_EXECUTION, close_lost
from tests.conftest import REDIS_URL, Backend, wait_until
from tests.packages.conftest import FakeExecutor
from tests.test_files import HELLO


async def _forget(prefix_free_key: str) -> None:
    """Delete every Redis key naming ``prefix_free_key``, as a Redis that lost its data would."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"*{prefix_free_key}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def test_a_pending_run_the_queue_lost_is_closed_and_a_queued_one_is_not(
    backend: Backend,
) -> None:
    async with open_context(backend.settings) as ctx:
        transport = open_transport(ctx)
        try:
            written = await ctx.files.write("workflows/hello.py", HELLO)
            wid = written.workflows[0].id
            queued, queued_request = await run_request.prepare(
                ctx.db, wid, {}, timeout_s=5, max_timeout_s=86400, memory_mb=256
            )
            lost, _ = await run_request.prepare(
                ctx.db, wid, {}, timeout_s=5, max_timeout_s=86400, memory_mb=256
            )
            await QueueDispatcher(transport.executions).submit(queued_request)  # no consumer yet
            await transport.workers.announce({"id": "me"})

            closed = await close_lost(
                ctx.db,
                executions,
                transport.workers,
                "me",
                transport.executions,
                min_age_s=0,
                message=LOST_EXECUTION,
            )
            assert closed == 1
            assert (await executions.get(ctx.db, queued.id)).status == "pending"
            record = await executions.get(ctx.db, lost.id)
            assert record.status == "failed" and record.error["type"] == "ExecutionLost"
            assert "start the run again" in record.error["message"]

            # A worker that cannot see itself in the roster judges nobody.
            await transport.workers.withdraw("me")
            another, _ = await run_request.prepare(
                ctx.db, wid, {}, timeout_s=5, max_timeout_s=86400, memory_mb=256
            )
            assert (
                await close_lost(
                    ctx.db,
                    executions,
                    transport.workers,
                    "me",
                    transport.executions,
                    min_age_s=0,
                    message=LOST_EXECUTION,
                )
                == 0
            )
            assert (await executions.get(ctx.db, another.id)).status == "pending"
        finally:
            await transport.close()


async def test_the_worker_closes_a_run_whose_queued_task_vanished(backend: Backend) -> None:
    """Redis lost the queued task (distributed), or the task never reached the in-process
    queue (embedded): the worker's reaper closes the row within its period instead of leaving
    it pending for ever."""
    settings = backend.settings.model_copy(update={"reap_interval_s": 0.3})
    async with open_context(settings) as ctx:
        transport = open_transport(ctx)
        written = await ctx.files.write("workflows/hello.py", HELLO)
        worker = WorkerRole(ctx, transport, worker_id="reaper-test", executor=FakeExecutor())

        async def create():
            return await run_request.prepare(
                ctx.db, written.workflows[0].id, {}, timeout_s=5, max_timeout_s=86400, memory_mb=256
            )

        if backend.name == "postgres":  # queued, then lost before any worker took it
            record, request = await create()
            await QueueDispatcher(transport.executions).submit(request)
            await _forget(record.id)
            await worker.start()
        else:  # embedded start closes everything of a previous process: lose one after it
            await worker.start()
            record, _ = await create()
        try:

            async def closed() -> bool:
                return (await executions.get(ctx.db, record.id)).status == "failed"

            await wait_until(closed, timeout=15)
            assert (await executions.get(ctx.db, record.id)).error["type"] == "ExecutionLost"
        finally:
            await worker.stop()
            await transport.close()


async def test_a_job_whose_scheduler_died_is_closed_as_failed(backend: Backend) -> None:
    settings = backend.settings.model_copy(update={"reap_interval_s": 0.3})
    async with open_context(settings) as ctx:
        transport = open_transport(ctx)
        await records.create(ctx.db, "orphan", "packages.install", {}, created_by=None)
        assert await records.mark_running(ctx.db, "orphan", "ghost:1")  # never heartbeats
        await records.create(ctx.db, "unqueued", "packages.install", {}, created_by=None)
        scheduler = SchedulerRole(ctx, transport, scheduler_id="live:1")
        await scheduler.start()
        try:

            async def closed() -> bool:
                jobs = [await records.get(ctx.db, i) for i in ("orphan", "unqueued")]
                return all(job.status is JobStatus.FAILED for job in jobs)

            await wait_until(closed, timeout=15)
            orphan = await records.get(ctx.db, "orphan")
            assert orphan.error["type"] == "RunnerLost" and orphan.finished_at is not None
            # Embedded: the starting scheduler closed both (it is the only one there is).
            expected = "RunnerLost" if backend.name == "embedded" else "JobLost"
            assert (await records.get(ctx.db, "unqueued")).error["type"] == expected
        finally:
            await scheduler.stop()
            await transport.close()


async def test_a_run_the_api_gave_up_dispatching_never_starts_later(backend: Backend) -> None:
    """L12: with a slow Redis the API closes a run as DispatchError while its task may still
    reach a worker; that worker must not run it, and the closed row keeps what the user was told."""
    from bifrost.events import LocalEventBus
    from bifrost.runtime.protocol import ExecutionOutcome, ExecutionRequest
    from bifrost.worker.runner import Runner

    async with open_context(backend.settings) as ctx:
        written = await ctx.files.write("workflows/hello.py", HELLO)
        record, request = await run_request.prepare(
            ctx.db, written.workflows[0].id, {}, timeout_s=5, max_timeout_s=86400, memory_mb=256
        )
        await executions.fail(ctx.db, record.id, "the run was not started: the queue is slow")
        executor = FakeExecutor()
        started: list[str] = []

        async def run(request: ExecutionRequest) -> ExecutionOutcome:
            started.append(request.execution_id)
            return ExecutionOutcome(execution_id=request.execution_id, status="success")

        executor.run = run
        runner = Runner(ctx.db, executor, LocalEventBus(), "late-worker", check_pending=True)
        outcome = await runner.handle(request)
        assert started == [] and outcome.status == "failed"
        late = ExecutionOutcome(execution_id=record.id, status="success", result=1, generation=1)
        await executions.finish(ctx.db, late, "late-worker")
        row = await executions.get(ctx.db, record.id)
        assert row.status == "failed" and row.error["type"] == "DispatchError", row.error


async def test_a_claimed_run_whose_outcome_was_never_recorded_is_closed(backend: Backend) -> None:
    """A worker marks each run ``running`` before it starts it; if it then cannot record the
    outcome, the row would stay ``running`` while the worker lives. The worker's reaper closes
    its own such runs; one it still has in hand, and another worker's, are left alone."""
    from bifrost.worker.reaper import close_unrecorded

    async with open_context(backend.settings) as ctx:
        written = await ctx.files.write("workflows/hello.py", HELLO)

        async def claimed(worker: str) -> str:
            record, _ = await run_request.prepare(
                ctx.db,
                written.workflows[0].id,
                {},
                timeout_s=5,
                max_timeout_s=86400,
                memory_mb=256,
            )
            assert await executions.claim(ctx.db, record.id, worker)
            assert not await executions.claim(ctx.db, record.id, "other:2")  # taken once
            return record.id

        unrecorded, in_hand, others = (
            await claimed("alive:1"),
            await claimed("alive:1"),
            await claimed("other:3"),
        )
        closed = await close_unrecorded(
            ctx.db, "alive:1", {in_hand}, min_age_s=0, message=LOST_EXECUTION
        )
        assert closed == 1
        record = await executions.get(ctx.db, unrecorded)
        assert record.status == "failed" and record.error["type"] == "ExecutionLost"
        assert (await executions.get(ctx.db, in_hand)).status == "running"
        assert (await executions.get(ctx.db, others)).status == "running"
