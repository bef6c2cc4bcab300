"""The executor's view of the code: manifests and blobs from the module cache."""

from __future__ import annotations

import dataclasses

from bifrost.cache.base import ModuleCache
from bifrost.runtime.protocol import Snapshot, diff


class CacheCodeSource:
    """Hands the executor the newest manifest it already holds when that is new enough.

    An execution is pinned to the generation current at dispatch; any manifest at least that new
    contains every save made before it, so a warm worker answers without a round trip.
    """

    def __init__(self, cache: ModuleCache) -> None:
        self.cache = cache
        self._last: Snapshot | None = None

    async def snapshot(self, min_generation: int) -> Snapshot:
        last = self._last
        if last is not None and last.generation >= min_generation:
            return last
        fresh = await self.cache.snapshot(min_generation)
        newer = last is not None and fresh.generation > last.generation
        if last is not None and newer and fresh.base != last.generation:
            # Read whole (Redis, a rebuild) or more than one change on: the change since the
            # manifest this worker last handed out, so its template is still taught only that.
            fresh = dataclasses.replace(
                fresh, base=last.generation, changes=diff(last.manifest, fresh.manifest)
            )
        self._last = fresh
        return fresh

    async def blob(self, sha256: str) -> bytes | None:
        return await self.cache.blob(sha256)


class ExportedCodeSource:
    """The rollback path (BIFROST_VIRTUAL_IMPORTS=false): the hook gets an empty manifest, so
    every import resolves from the exported directory on ``sys.path`` instead."""

    EMPTY = Snapshot(generation=0, manifest={})

    async def snapshot(self, min_generation: int) -> Snapshot:
        return self.EMPTY

    async def blob(self, sha256: str) -> bytes | None:
        return None
