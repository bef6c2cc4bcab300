"""The event a committed write hands to the caches and listeners."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    """One committed change, handed to the cache after the commit."""

    generation: int
    paths: dict[str, str | None]  # path -> new sha256, or None when the path went away
    blobs: dict[str, bytes]  # sha256 -> content of Python sources worth caching now
    requirements: bytes | None = None  # the new requirements.txt, when this change wrote it
