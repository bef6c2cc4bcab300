"""The database reads the caches fill themselves from: a consistent manifest and blobs by hash."""

from __future__ import annotations

from sqlalchemy import select

from bifrost import names
from bifrost.runtime.protocol import Snapshot
from bifrost.store import kept
from bifrost.store.db import Database
from bifrost.store.models import Workspace, WorkspaceFile
from bifrost.store.objects import ObjectStore, load


class StoreReader:
    """Reads the caches fill themselves from: a consistent manifest and blobs by hash."""

    def __init__(self, db: Database, objects: ObjectStore) -> None:
        self.db = db
        self.objects = objects

    async def snapshot(self) -> Snapshot:
        async with self.db.read() as session, session.begin():
            if not self.db.is_sqlite:
                # One consistent view of the generation and the rows it describes.
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            generation = await session.scalar(select(Workspace.generation).where(Workspace.id == 1))
            rows = await session.execute(
                select(WorkspaceFile.path, WorkspaceFile.content_hash).where(
                    WorkspaceFile.is_deleted.is_(False)
                )
            )
            return Snapshot(generation=generation or 0, manifest={path: sha for path, sha in rows})

    async def blob(self, sha256: str) -> bytes | None:
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(WorkspaceFile.path, WorkspaceFile.content, WorkspaceFile.in_object_store)
                    .where(WorkspaceFile.content_hash == sha256)
                    .limit(1)
                )
            ).first()
            if row is None:  # no file holds it any more: an orphan's kept source, if any
                return await kept.source(session, sha256)
        path, content, in_object_store = row
        return await load(self.objects, sha256, path) if in_object_store else content

    async def python_blobs(self) -> dict[str, bytes]:
        async with self.db.read() as session:
            rows = await session.execute(
                select(WorkspaceFile.content_hash, WorkspaceFile.content).where(
                    WorkspaceFile.is_deleted.is_(False),
                    WorkspaceFile.path.like("%.py"),
                    WorkspaceFile.content.is_not(None),
                )
            )
            return {sha: content for sha, content in rows}

    async def requirements(self) -> dict[str, str] | None:
        """``{"content", "hash"}`` of the workspace's requirements.txt."""
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(WorkspaceFile.content, WorkspaceFile.content_hash).where(
                        WorkspaceFile.path == names.REQUIREMENTS_PATH,
                        WorkspaceFile.is_deleted.is_(False),
                    )
                )
            ).first()
        if row is None:
            return None
        return {"content": (row[0] or b"").decode("utf-8", "replace"), "hash": row[1]}
