"""Workers announce themselves so `/api/health` can say which ones it sees."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from bifrost.errors import Unavailable
from bifrost.store import executions

if TYPE_CHECKING:
    from bifrost.services import Services

log = logging.getLogger(__name__)

INTERVAL_S = 5.0
TTL_S = 20
REAP_EVERY = 6  # beats between checks for runs whose worker died


class Heartbeat:
    def __init__(self, services: Services, worker_id: str) -> None:
        self.services = services
        self.info: dict[str, Any] = {
            "id": worker_id,
            "concurrency": services.settings.worker_concurrency,
            "started_at": time.time(),
        }
        self._task: asyncio.Task | None = None

    @property
    def key(self) -> str:
        return f"{self.services.settings.cache_prefix}worker:{self.info['id']}"

    async def start(self) -> None:
        await self.beat()
        self._task = asyncio.create_task(self._loop())

    async def beat(self) -> None:
        self.info["seen_at"] = time.time()
        if self.services.redis is None:
            return
        try:
            await self.services.redis.set(self.key, json.dumps(self.info), ex=TTL_S)
        except RedisError as exc:
            log.warning("worker heartbeat failed: %s", exc)

    async def _loop(self) -> None:
        beats = 0
        while True:
            await asyncio.sleep(INTERVAL_S)
            await self.beat()
            beats += 1
            if beats % REAP_EVERY == 0:
                await self._reap()

    async def _reap(self) -> None:
        """Any worker may close the runs of a worker that died (its heartbeat expired)."""
        try:
            live = {w["id"] for w in await live_workers(self.services)}
            if self.info["id"] in live:  # never judge others while our own view is broken
                count = await executions.fail_abandoned(self.services.db, live)
                if count:
                    log.warning("closed %d executions whose worker is gone", count)
        except Exception as exc:  # boundary: a background loop that must keep beating
            log.warning("could not check for abandoned executions: %s", exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.services.redis is not None:
            with contextlib.suppress(RedisError):
                await self.services.redis.delete(self.key)


async def live_workers(services: Services) -> list[dict[str, Any]]:
    """Workers seen recently: this process's own, plus every one registered in Redis."""
    if services.redis is None:
        return [services.heartbeat.info] if services.heartbeat else []
    pattern = f"{services.settings.cache_prefix}worker:*"
    try:
        keys = [key async for key in services.redis.scan_iter(match=pattern, count=500)]
        values = await services.redis.mget(keys) if keys else []
    except RedisError as exc:
        raise Unavailable(f"cannot list the live workers: Redis cannot be reached ({exc})") from exc
    return [json.loads(v) for v in values if v]
