"""The executor's view of the code: manifests and blobs from the module cache, and the kept code
orphans run (read from the database)."""

from __future__ import annotations

import collections
import dataclasses

from bifrost.cache.base import ModuleCache
from bifrost.errors import Conflict
from bifrost.runtime.protocol import Snapshot, diff
from bifrost.store import kept
from bifrost.store.db import Database

KEPT_MANIFESTS = 32  # kept manifests held in memory: immutable, so never stale


class CacheCodeSource:
    """Hands the executor the newest manifest it already holds when that is new enough.

    An execution is pinned to the generation current at dispatch; any manifest at least that new
    contains every save made before it, so a warm worker answers without a round trip. Kept
    manifests never change once written, so each is read from the database once.
    """

    def __init__(self, cache: ModuleCache, db: Database | None = None) -> None:
        self.cache = cache
        self.db = db
        self._last: Snapshot | None = None
        self._kept: collections.OrderedDict[int, dict[str, str]] = collections.OrderedDict()

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
        return await self.cache.blob(sha256)  # a kept source too: the store falls back to them

    async def kept(self, generation: int, path: str, sha256: str) -> dict[str, str]:
        manifest = self._kept.get(generation)
        if manifest is None:
            if self.db is None:
                raise Conflict("this worker cannot read kept code (no database)")
            manifest = await kept.manifest(self.db, generation)
            if manifest is None:
                raise Conflict(f"no code was kept at generation {generation}")
            self._kept[generation] = manifest
            while len(self._kept) > KEPT_MANIFESTS:
                self._kept.popitem(last=False)
        else:
            self._kept.move_to_end(generation)
        return {**manifest, path: sha256}


class ExportedCodeSource:
    """The rollback path (BIFROST_VIRTUAL_IMPORTS=false): the hook gets an empty manifest, so
    every import resolves from the exported directory on ``sys.path`` instead."""

    EMPTY = Snapshot(generation=0, manifest={})

    async def snapshot(self, min_generation: int) -> Snapshot:
        return self.EMPTY

    async def blob(self, sha256: str) -> bytes | None:
        return None

    async def kept(self, generation: int, path: str, sha256: str) -> dict[str, str]:
        raise Conflict(
            "orphaned workflows run their kept code only with virtual imports "
            "(BIFROST_VIRTUAL_IMPORTS=true); the exported directory does not hold it"
        )
