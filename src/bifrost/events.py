"""Live events by channel (``execution:<id>``, ``job:<id>``..., see names.py): Redis pub/sub or
in-process.

One subscriber connection per process fans messages out to local queues, so a waiting request costs
one SUBSCRIBE, not a connection. A family of short-lived channels (one ``execution:<id>`` per run,
waited on by every ``wait: true`` request) is served by one pattern subscription the process makes
the first time and keeps: waiting for a run's outcome then costs no Redis command at all (no
SUBSCRIBE before, no UNSUBSCRIBE after), at the price of every API process receiving every run's
outcome, which a process that waits for none drops unread.
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


def _glob_escape(text: str) -> str:
    """``text`` matched literally in a Redis PSUBSCRIBE pattern (the prefix is configurable)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisEventBus:
    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str,
        families: tuple[str, ...] = (names.EXECUTION_CHANNELS,),
    ) -> None:
        """``families``: channel prefixes served by one kept pattern subscription each."""
        self.redis = client
        self.prefix = names.events_prefix(prefix)
        self.families = families
        self._fanout = _Fanout()
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._reader: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self._patterns: set[str] = set()  # families subscribed to (never undone)

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

    def _family(self, channel: str) -> str | None:
        return next((f for f in self.families if channel.startswith(f)), None)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[asyncio.Queue]:
        family = self._family(channel)
        if family is None:
            async with self._subscribed(channel) as queue:
                yield queue
            return
        queue: asyncio.Queue = asyncio.Queue()
        self._fanout.queues[channel].add(queue)
        try:
            if family not in self._patterns:
                await self._psubscribe(family)
            yield queue
        finally:
            self._drop(channel, queue)

    async def _psubscribe(self, family: str) -> None:
        async with self._lock:
            if family not in self._patterns:
                try:
                    await self._pubsub.psubscribe(_glob_escape(self.prefix + family) + "*")
                except RedisError as exc:
                    raise Unavailable(UNAVAILABLE) from exc
                self._patterns.add(family)
            self._start_reader()

    def _drop(self, channel: str, queue: asyncio.Queue) -> None:
        queues = self._fanout.queues.get(channel)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._fanout.queues[channel]

    def _start_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read())

    @contextlib.asynccontextmanager
    async def _subscribed(self, channel: str) -> AsyncIterator[asyncio.Queue]:
        """A channel of its own: SUBSCRIBE when the first local listener comes, UNSUBSCRIBE
        when the last one goes."""
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
            self._start_reader()
        try:
            yield queue
        finally:
            async with self._lock:
                self._drop(channel, queue)
                if channel not in self._fanout.queues:
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
                if not self._fanout.queues and not self._patterns:
                    await asyncio.sleep(0.05)
                continue
            channel = message["channel"].decode()[len(self.prefix) :]
            if channel in self._fanout.queues:  # a pattern brings outcomes nobody here awaits
                self._fanout.deliver(channel, json.loads(message["data"]))

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        await self._pubsub.aclose()
