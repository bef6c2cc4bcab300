"""Whether the object store still holds, intact, every object the rows point to.

Read-only: a missing or corrupt object cannot be rebuilt from the database (it holds only the
hash), so the check names the files and their objects for an operator to restore. Each object
is read through :func:`bifrost.store.objects.verified`, the check every read makes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import select

from bifrost.errors import Inconsistent
from bifrost.store.db import Database
from bifrost.store.models import WorkspaceFile
from bifrost.store.objects import ObjectStore, verified

CONCURRENCY = 8  # objects read at once (threads: local disk or S3)


@dataclass
class ObjectCheck:
    checked: int = 0
    missing: list[dict[str, str]] = field(default_factory=list)  # {"path", "sha256"}
    corrupt: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"checked": self.checked, "missing": self.missing, "corrupt": self.corrupt}


async def check_objects(db: Database, objects: ObjectStore) -> ObjectCheck:
    """Every object a live or soft-deleted row references, read and hashed once per hash."""
    async with db.read() as session:
        rows = await session.execute(
            select(WorkspaceFile.content_hash, WorkspaceFile.path)
            .where(WorkspaceFile.in_object_store.is_(True))
            .order_by(WorkspaceFile.path)
        )
        wanted: dict[str, str] = {}
        for sha, path in rows:
            wanted.setdefault(sha, path)
    found = ObjectCheck(checked=len(wanted))
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(sha: str, path: str) -> None:
        async with limit:
            try:
                await asyncio.to_thread(verified, objects, sha, path)
            except Inconsistent:  # read once more only to say which of the two it is
                gone = await asyncio.to_thread(objects.get, sha) is None
                (found.missing if gone else found.corrupt).append({"path": path, "sha256": sha})

    await asyncio.gather(*(one(sha, path) for sha, path in wanted.items()))
    found.missing.sort(key=lambda item: item["path"])
    found.corrupt.sort(key=lambda item: item["path"])
    return found
