"""The SAQ work queue: a drained worker stops quietly (its jobs have finished)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis

from bifrost.worker.queue import SaqQueue
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
