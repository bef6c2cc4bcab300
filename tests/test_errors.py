"""Domain errors: one HTTP status per class, and foreign errors translated where they enter."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from bifrost.api.errors import status_of
from bifrost.errors import (
    BifrostError,
    Conflict,
    Inconsistent,
    InvalidInput,
    NotFound,
    TooLarge,
    Unavailable,
)
from bifrost.events import RedisEventBus
from bifrost.runtime.protocol import ExecutionRequest
from bifrost.settings import Settings
from bifrost.store.db import Database
from bifrost.worker.dispatch import QueueDispatcher
from bifrost.worker.queue import SaqQueue
from bifrost.workspace.paths import InvalidPath

NOWHERE_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound, 404),
        (Conflict, 409),
        (TooLarge, 413),
        (InvalidInput, 422),
        (InvalidPath, 422),  # a subclass answers with its parent's status
        (Unavailable, 503),
        (Inconsistent, 500),
        (BifrostError, 500),
    ],
)
def test_each_error_class_has_one_status(error: type[BifrostError], status: int) -> None:
    assert status_of(error("message")) == status


async def test_an_unreachable_database_is_unavailable_without_its_url() -> None:
    url = "postgresql://bifrost:s3cret-password@127.0.0.1:1/nothing"
    db = Database(Settings(database_url=url))
    try:
        with pytest.raises(Unavailable) as refused:
            async with db.read() as session:
                await session.execute(select(1))
        with pytest.raises(Unavailable):
            async with db.write() as session:
                await session.execute(select(1))
    finally:
        await db.close()
    assert "s3cret" not in refused.value.message and "127.0.0.1" not in refused.value.message


async def test_an_unreachable_queue_is_unavailable() -> None:
    client = aioredis.Redis.from_url(NOWHERE_REDIS)
    dispatcher = QueueDispatcher(SaqQueue(client, "bifrost-test:executions", "execute", "request"))
    request = ExecutionRequest(
        execution_id="e1",
        module="m",
        function="f",
        parameters={},
        generation=1,
        timeout_s=1.0,
        memory_mb=64,
    )
    try:
        with pytest.raises(Unavailable, match="execution queue is unavailable"):
            await dispatcher.submit(request)
    finally:
        await client.aclose()


async def test_unreachable_events_are_unavailable() -> None:
    client = aioredis.Redis.from_url(NOWHERE_REDIS)
    bus = RedisEventBus(client, "bifrost-test:")
    try:
        with pytest.raises(Unavailable):
            await bus.publish("execution:x", {"a": 1})
        with pytest.raises(Unavailable):
            async with bus.subscribe("execution:x"):
                pass
    finally:
        await bus.close()
        await client.aclose()
