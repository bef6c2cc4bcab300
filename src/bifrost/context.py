"""The shared resources of any Bifrost process: database, object store, cache, events, files.

``open_context(settings)`` opens them and nothing else: no worker, no queue consumer, no process
hardening. Embedded mode (no ``BIFROST_REDIS_URL``) uses the in-process cache and event bus;
distributed mode uses Redis for both. A script or a test uses it directly::

    async with open_context(settings) as ctx:
        await ctx.files.write("workflows/hello.py", source)

What a process runs on top of it is chosen by its roles (``bifrost.roles``).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from bifrost.cache.base import ModuleCache
from bifrost.cache.local import LocalModuleCache
from bifrost.cache.redis import RedisModuleCache
from bifrost.cache.redis import connect as connect_redis
from bifrost.events import EventBus, LocalEventBus, RedisEventBus
from bifrost.packages.worker import requirements_listener
from bifrost.settings import Settings
from bifrost.store.db import Database
from bifrost.store.files import Files
from bifrost.store.objects import ObjectStore, object_store
from bifrost.store.reader import StoreReader
from bifrost.workspace.paths import reserved_top_level_names


@dataclass
class Context:
    settings: Settings
    db: Database
    objects: ObjectStore
    cache: ModuleCache
    events: EventBus
    files: Files
    redis: aioredis.Redis | None = None  # distributed mode only

    async def close(self) -> None:
        await self.events.close()
        await self.cache.close()
        await self.db.close()

    async def __aenter__(self) -> Context:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def open_context(settings: Settings) -> Context:
    db = Database(settings)
    objects = object_store(settings)
    reader = StoreReader(db, objects)
    redis_client = None
    if settings.redis_url is None:
        cache: ModuleCache = LocalModuleCache(reader)
        events: EventBus = LocalEventBus()
    else:
        redis_client = connect_redis(settings.redis_url.get_secret_value())
        cache = RedisModuleCache(redis_client, reader, settings.cache_prefix)
        events = RedisEventBus(redis_client, settings.cache_prefix)
    files = Files(
        db,
        cache,
        objects,
        max_bytes=settings.max_file_bytes,
        reserved=lambda: reserved_top_level_names([str(settings.packages_path)]),
    )
    # Whoever changes requirements.txt, the workers must hear of it.
    files.listeners.append(requirements_listener(events))
    return Context(settings, db, objects, cache, events, files, redis_client)
