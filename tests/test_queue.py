"""The work queues: a drained SAQ worker stops quietly (its jobs have finished); a consumer takes a
task only once its worker is ready to start it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis

from bifrost.worker.queue import LocalQueue, Presence, SaqQueue, WorkQueue
from tests.servers import REDIS_URL, drop_prefix


async def test_a_drained_worker_stops_without_warning_of_unfinished_tasks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    prefix = f"bifrost-test-{uuid.uuid4().hex[:8]}:"
    client = aioredis.Redis.from_url(REDIS_URL)
    queue = SaqQueue(client, f"{prefix}executions", "execute", "request")
    ran: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def handler(payload: dict[str, Any]) -> None:
        await ran.put(payload)

    consumer = queue.consumer(handler, concurrency=1)
    try:
        await consumer.start()
        await queue.put("run-1", {"x": 1}, timeout_s=30)
        assert await asyncio.wait_for(ran.get(), 30) == {"x": 1}
        with caplog.at_level(logging.WARNING):
            await consumer.drain(grace_s=5)
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    finally:
        await queue.close()
        drop_prefix(prefix)


@pytest.mark.parametrize("kind", ["local", "saq"])
async def test_a_consumer_takes_no_task_until_its_worker_is_ready(kind: str) -> None:
    """`bifrost up`'s worker also runs its own API's runs, which no queue sees: while those hold
    every slot, a task taken from the queue would wait, its timeout running, where another
    worker could have run it. So the consumer waits for ``ready`` before each take."""
    prefix = f"bifrost-test-{uuid.uuid4().hex[:8]}:"
    client = aioredis.Redis.from_url(REDIS_URL)
    queue: WorkQueue = (
        LocalQueue() if kind == "local" else SaqQueue(client, f"{prefix}executions", "execute", "x")
    )
    slot_free = asyncio.Event()
    ran: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def handler(payload: dict[str, Any]) -> None:
        await ran.put(payload)

    consumer = queue.consumer(handler, concurrency=2, ready=slot_free.wait)
    try:
        await consumer.start()
        await queue.put("run-1", {"x": 1}, timeout_s=30)
        await asyncio.sleep(1.5)  # longer than one idle wait of SAQ's dequeue (1 s)
        assert (await queue.state("run-1")).presence is Presence.WAITING and ran.empty()
        slot_free.set()
        assert await asyncio.wait_for(ran.get(), 30) == {"x": 1}
        await consumer.drain(grace_s=5)
    finally:
        await queue.close()
        await client.aclose()
        drop_prefix(prefix)
