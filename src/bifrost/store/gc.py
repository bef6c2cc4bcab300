"""Collect the objects no workspace row references.

Live and soft-deleted rows both keep their objects (a sync still compares against what was
deleted). An object is taken only if it is also older than the grace period, and its age is read
again just before it goes: a write puts its object (or, if the object exists, refreshes its
modification time) before it commits the row, so an object a write is using right now is always
young. The order matters: objects are listed first and the references read after, so a row
committed while the listing ran is seen.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from sqlalchemy import select

from bifrost.store.db import Database
from bifrost.store.models import WorkspaceFile
from bifrost.store.objects import ObjectStore, StoredObject


@dataclass
class Collection:
    """What one run found; ``removed`` is what a dry run would remove."""

    scanned: int = 0
    referenced: int = 0
    young: int = 0
    removed: list[StoredObject] = field(default_factory=list)

    @property
    def removed_bytes(self) -> int:
        return sum(item.size for item in self.removed)


async def referenced_hashes(db: Database) -> set[str]:
    """The content hash of every row, live or soft-deleted."""
    async with db.read() as session:
        return set(await session.scalars(select(WorkspaceFile.content_hash).distinct()))


async def collect(
    db: Database,
    objects: ObjectStore,
    *,
    grace_s: float,
    dry_run: bool = False,
    now: float | None = None,
) -> Collection:
    """Remove (or, with ``dry_run``, only list) unreferenced objects older than ``grace_s``."""
    listed = await asyncio.to_thread(lambda: list(objects.scan()))
    referenced = await referenced_hashes(db)
    result = Collection(scanned=len(listed))
    now = time.time() if now is None else now
    for item in listed:
        if item.sha256 in referenced:
            result.referenced += 1
            continue
        modified = item.modified
        if not dry_run:  # read again: a write may have refreshed it since the listing
            modified = await asyncio.to_thread(objects.modified, item.sha256)
        if modified is None:  # gone already (another collection)
            continue
        if now - modified < grace_s:
            result.young += 1
            continue
        if not dry_run:
            await asyncio.to_thread(objects.delete, item.sha256)
        result.removed.append(item)
    return result
