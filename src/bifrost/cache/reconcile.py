"""What reconciling a cache with the database found: the comparison both caches share (pure)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass


@dataclass
class ManifestDiff:
    """Entries of the cached manifest against the database's, by path and hash."""

    checked: int = 0
    missing: int = 0  # a live file the cache does not list
    stale: int = 0  # listed with another hash
    ghost: int = 0  # listed, but no such live file

    @property
    def differs(self) -> bool:
        return bool(self.missing or self.stale or self.ghost)


def compare(cached: Mapping[str, str], database: Mapping[str, str]) -> ManifestDiff:
    diff = ManifestDiff(checked=len(database))
    for path, sha in database.items():
        found = cached.get(path)
        if found is None:
            diff.missing += 1
        elif found != sha:
            diff.stale += 1
    diff.ghost = sum(1 for path in cached if path not in database)
    return diff


def hashes_to(content: bytes, sha256: str) -> bool:
    return hashlib.sha256(content).hexdigest() == sha256


def report(
    diff: ManifestDiff,
    *,
    generation: int,
    cache_generation: int | None,
    sources_checked: int = 0,
    missing_sources: int = 0,
    stale_sources: int = 0,
    repaired: bool,
) -> dict[str, int]:
    """The counts ``reconcile_modules`` returns; ``cache_generation`` -1 when nothing was cached."""
    return {
        **asdict(diff),
        "generation": generation,
        "cache_generation": -1 if cache_generation is None else cache_generation,
        "sources_checked": sources_checked,
        "missing_sources": missing_sources,
        "stale_sources": stale_sources,
        "repaired": int(repaired),
    }
