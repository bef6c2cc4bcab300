"""Live events by channel (``execution:<id>``, ``job:<id>``..., see names.py): Redis pub/sub or
in-process.

One subscriber connection per process fans messages out to local queues, so a waiting request costs
one SUBSCRIBE, not a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bifrost import names
from bifrost.errors import Unavailable

log = logging.getLogger(__name__)
UNAVAILABLE = "live events are unavailable: Redis cannot be reached"


class EventBus(Protocol):
    """Raises :class:`Unavailable` when the bus's back end cannot be reached."""

    async def publish(self, channel: str, message: dict[str, Any]) -> None: ...

    async def publish_many(self, channel: str, messages: list[dict[str, Any]]) -> None:
        """``messages`` in order, in one round trip: a job reporting thousands of files must not
        wait for one per event."""
        ...

    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[asyncio.Queue]: ...

    async def close(self) -> None: ...


class _Fanout:
    def __init__(self) -> None:
        self.queues: dict[str, set[asyncio.Queue]] = defaultdict(set)

    def deliver(self, channel: str, message: dict[str, Any]) -> None:
        for queue in list(self.queues.get(channel, ())):
            queue.put_nowait(message)


class LocalEventBus:
    """Embedded mode: every publisher and subscriber lives in this process."""

    def __init__(self) -> None:
        self._fanout = _Fanout()

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        self._fanout.deliver(channel, message)

    async def publish_many(self, channel: str, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self._fanout.deliver(channel, message)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[asyncio.Queue]:
        queue: asyncio.Queue = asyncio.Queue()
        self._fanout.queues[channel].add(queue)
        try:
            yield queue
        finally:
            self._fanout.queues[channel].discard(queue)
            if not self._fanout.queues[channel]:
                del self._fanout.queues[channel]

    async def close(self) -> None:
        return None


class RedisEventBus:
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.redis = client
        self.prefix = names.events_prefix(prefix)
        self._fanout = _Fanout()
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._reader: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        try:
            await self.redis.publish(self.prefix + channel, json.dumps(message, default=str))
        except RedisError as exc:
            raise Unavailable(UNAVAILABLE) from exc

    async def publish_many(self, channel: str, messages: list[dict[str, Any]]) -> None:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for message in messages:
                    pipe.publish(self.prefix + channel, json.dumps(message, default=str))
                await pipe.execute()
        except RedisError as exc:
            raise Unavailable(UNAVAILABLE) from exc

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[asyncio.Queue]:
        queue: asyncio.Queue = asyncio.Queue()
        async with self._lock:
            first = not self._fanout.queues.get(channel)
            self._fanout.queues[channel].add(queue)
            if first:
                try:
                    await self._pubsub.subscribe(self.prefix + channel)
                except RedisError as exc:
                    del self._fanout.queues[channel]
                    raise Unavailable(UNAVAILABLE) from exc
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read())
        try:
            yield queue
        finally:
            async with self._lock:
                self._fanout.queues[channel].discard(queue)
                if not self._fanout.queues[channel]:
                    del self._fanout.queues[channel]
                    with contextlib.suppress(RedisError, OSError):  # Redis is away: nothing to undo
                        await self._pubsub.unsubscribe(self.prefix + channel)

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # boundary: the one reader must outlive Redis outages
                log.warning("event subscription failed (%s); retrying", exc)
                await asyncio.sleep(0.5)
                continue
            if message is None:
                if not self._fanout.queues:
                    await asyncio.sleep(0.05)
                continue
            channel = message["channel"].decode()[len(self.prefix) :]
            self._fanout.deliver(channel, json.loads(message["data"]))

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        await self._pubsub.aclose()
