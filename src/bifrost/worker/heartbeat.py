"""Live processes announce themselves, so others can list them and close the work of the dead.

A roster holds one entry per live process of a role (workers, schedulers): Redis keys with a TTL
when distributed, this process's memory when embedded. A :class:`Heartbeat` keeps one entry fresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bifrost.errors import Unavailable

log = logging.getLogger(__name__)

INTERVAL_S = 5.0
TTL_S = 20


class Roster(Protocol):
    async def announce(self, info: dict[str, Any]) -> None: ...

    async def withdraw(self, process_id: str) -> None: ...

    async def live(self) -> list[dict[str, Any]]:
        """The processes seen recently; :class:`Unavailable` when they cannot be listed."""


class LocalRoster:
    """Embedded mode: every role lives in this process."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Any]] = {}

    async def announce(self, info: dict[str, Any]) -> None:
        self._entries[info["id"]] = info

    async def withdraw(self, process_id: str) -> None:
        self._entries.pop(process_id, None)

    async def live(self) -> list[dict[str, Any]]:
        return list(self._entries.values())


class RedisRoster:
    """One key per process, ``<key_prefix><id>``, expiring ``TTL_S`` after its last beat."""

    def __init__(self, client: aioredis.Redis, key_prefix: str) -> None:
        self.redis = client
        self.key_prefix = key_prefix

    async def announce(self, info: dict[str, Any]) -> None:
        await self.redis.set(self.key_prefix + info["id"], json.dumps(info), ex=TTL_S)

    async def withdraw(self, process_id: str) -> None:
        await self.redis.delete(self.key_prefix + process_id)

    async def live(self) -> list[dict[str, Any]]:
        pattern = f"{self.key_prefix}*"
        try:
            keys = [key async for key in self.redis.scan_iter(match=pattern, count=500)]
            values = await self.redis.mget(keys) if keys else []
        except RedisError as exc:
            raise Unavailable(
                f"cannot list the live workers: Redis cannot be reached ({exc})"
            ) from exc
        return [json.loads(v) for v in values if v]


class Heartbeat:
    """Keeps ``info`` (which must hold ``id``) in the roster every ``INTERVAL_S``."""

    def __init__(self, roster: Roster, info: dict[str, Any]) -> None:
        self.roster = roster
        self.info: dict[str, Any] = {**info, "started_at": time.time()}
        self._task: asyncio.Task | None = None

    @property
    def id(self) -> str:
        return self.info["id"]

    async def start(self) -> None:
        await self.beat()
        self._task = asyncio.create_task(self._loop())

    async def beat(self) -> None:
        self.info["seen_at"] = time.time()
        try:
            await self.roster.announce(self.info)
        except RedisError as exc:
            log.warning("heartbeat failed: %s", exc)

    async def report(self, field: str, value: Any) -> None:
        """Publish a piece of state now (e.g. the packages report), not at the next beat."""
        self.info[field] = value
        await self.beat()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL_S)
            await self.beat()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(RedisError):
            await self.roster.withdraw(self.id)
