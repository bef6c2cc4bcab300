"""What every module cache offers, and the reads it falls back to (the store implements them)."""

from __future__ import annotations

from typing import Protocol

from bifrost.cache.change import Change
from bifrost.runtime.protocol import Snapshot

__all__ = ["ModuleCache", "Source"]


class Source(Protocol):
    """The database reads a cache fills itself from (``bifrost.store.reader.StoreReader``)."""

    async def snapshot(self) -> Snapshot: ...

    async def blob(self, sha256: str) -> bytes | None: ...

    async def python_blobs(self) -> dict[str, bytes]: ...

    async def requirements(self) -> dict[str, str] | None: ...


class ModuleCache(Protocol):
    async def apply(self, change: Change) -> None:
        """Record a committed change; never raises (a down cache is repaired later)."""

    async def snapshot(self, min_generation: int = 0) -> Snapshot:
        """The newest manifest, at least ``min_generation``; rebuilt from the database if behind."""

    async def generation(self) -> int: ...

    async def blob(self, sha256: str) -> bytes | None:
        """Content by hash; a miss is filled from the database."""

    async def rebuild(self) -> int:
        """Reload the manifest from the database; returns the generation loaded."""

    async def warm(self) -> int:
        """Rebuild and preload every Python source; ``bifrost init`` runs this."""

    async def requirements(self) -> dict[str, str] | None:
        """``{"content", "hash"}`` of the workspace's requirements.txt, or None if it has none."""

    async def reconcile_modules(self, *, repair: bool = True) -> dict[str, int]:
        """Compare the cached manifest and sources with the database by hash: entries missing,
        stale (another hash) or ghost (no such live file), and cached sources whose bytes do not
        hash to their key (or Python sources of the manifest absent, where sources are shared);
        with ``repair``, make the cache match the database. The counts found."""

    async def reconcile_requirements(self, *, repair: bool = True) -> dict[str, int]:
        """The same for the requirements.txt entry: missing, stale or ghost."""

    async def health(self) -> dict[str, object]: ...

    async def close(self) -> None: ...
