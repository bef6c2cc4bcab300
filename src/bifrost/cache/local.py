"""The embedded module cache: no Redis, the same interface, filled from the database.

Embedded mode runs the API and the worker in one process, so the manifest and recently written
sources are simply kept in memory; anything missing is read from the database.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from bifrost.cache.base import Source
from bifrost.cache.change import Change
from bifrost.cache.reconcile import compare, hashes_to, report
from bifrost.runtime.protocol import Snapshot, apply


class BlobLRU:
    """Sources by hash, bounded by total size; entries are immutable so they never go stale."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0

    def get(self, sha256: str) -> bytes | None:
        content = self._items.get(sha256)
        if content is not None:
            self._items.move_to_end(sha256)
        return content

    def put(self, sha256: str, content: bytes) -> None:
        if sha256 in self._items:
            self._items.move_to_end(sha256)
            return
        self._items[sha256] = content
        self._size += len(content)
        while self._size > self.max_bytes and self._items:
            _, evicted = self._items.popitem(last=False)
            self._size -= len(evicted)

    def drop(self, sha256: str) -> None:
        content = self._items.pop(sha256, None)
        if content is not None:
            self._size -= len(content)

    def items(self) -> list[tuple[str, bytes]]:
        return list(self._items.items())


class LocalModuleCache:
    def __init__(self, store: Source) -> None:
        self.store = store
        self.blobs = BlobLRU()
        self._snapshot: Snapshot | None = None
        self._lock = asyncio.Lock()

    async def apply(self, change: Change) -> None:
        for sha, content in change.blobs.items():
            self.blobs.put(sha, content)
        async with self._lock:
            current = self._snapshot
            if current is None or current.generation >= change.generation:
                return
            if current.generation != change.generation - 1:
                self._snapshot = None  # reloaded from the database by the next snapshot()
                return
            changes = dict(change.paths)
            self._snapshot = Snapshot(  # snapshots handed out are never mutated: a new one
                generation=change.generation,
                manifest=apply(current.manifest, changes),
                base=current.generation,
                changes=changes,  # so a template holding the base is taught only this
            )

    async def generation(self) -> int:
        return -1 if self._snapshot is None else self._snapshot.generation

    async def snapshot(self, min_generation: int = 0) -> Snapshot:
        current = self._snapshot
        if current is not None and current.generation >= min_generation:
            return current
        async with self._lock:
            if self._snapshot is None or self._snapshot.generation < min_generation:
                self._snapshot = await self.store.snapshot()
            return self._snapshot

    async def rebuild(self) -> int:
        async with self._lock:
            self._snapshot = await self.store.snapshot()
            return self._snapshot.generation

    async def warm(self) -> int:
        generation = await self.rebuild()
        for sha, content in (await self.store.python_blobs()).items():
            self.blobs.put(sha, content)
        return generation

    async def blob(self, sha256: str) -> bytes | None:
        content = self.blobs.get(sha256)
        if content is None:
            content = await self.store.blob(sha256)
            if content is not None:
                self.blobs.put(sha256, content)
        return content

    async def requirements(self) -> dict[str, str] | None:
        return await self.store.requirements()

    async def reconcile_modules(self, *, repair: bool = True) -> dict[str, int]:
        """The manifest in memory against the database's; sources kept in memory whose bytes do
        not hash to their key are dropped (read again from the database when next asked for).
        Sources not in memory are not missing: this cache fills itself on demand."""
        cached = self._snapshot
        database = await self.store.snapshot()
        diff = compare(cached.manifest if cached else {}, database.manifest)
        if cached is None:  # nothing held yet: the next snapshot() reads the database
            diff.missing = 0
        held = self.blobs.items()
        stale_sources = [sha for sha, content in held if not hashes_to(content, sha)]
        repaired = False
        ahead = cached is not None and cached.generation > database.generation
        if repair and (diff.differs or stale_sources or ahead):
            async with self._lock:
                if self._snapshot is cached:  # no change came in meanwhile
                    self._snapshot = database
            for sha in stale_sources:
                self.blobs.drop(sha)
            repaired = True
        return report(
            diff,
            generation=database.generation,
            cache_generation=cached.generation if cached else None,
            sources_checked=len(held),
            stale_sources=len(stale_sources),
            repaired=repaired,
        )

    async def reconcile_requirements(self, *, repair: bool = True) -> dict[str, int]:
        """Nothing to compare: this cache reads requirements.txt from the database every time."""
        present = await self.store.requirements() is not None
        return {"checked": int(present), "missing": 0, "stale": 0, "ghost": 0, "repaired": 0}

    async def health(self) -> dict[str, object]:
        return {"kind": "embedded", "ok": True, "generation": await self.generation()}

    async def close(self) -> None:
        return None
