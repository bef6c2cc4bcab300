"""Kept code: the sources and python manifests orphaned workflows still run.

An orphan runs its module's last good source (``Workflow.source_hash``), its imports resolved
against the python modules live just before the change that orphaned it
(``kept_manifests[Workflow.orphaned_generation]``). Both are copied inside the orphaning
transaction, before its edits overwrite anything: a source once kept never changes (the key is
its hash), so a worker may cache what it read for as long as it likes.
"""

from __future__ import annotations

from sqlalchemy import Insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bifrost.store.db import Database
from bifrost.store.models import KeptManifest, KeptSource, WorkspaceFile, utcnow

PYTHON = WorkspaceFile.path.like("%.py")


def _insert_ignoring_kept(session: AsyncSession) -> Insert:
    """INSERT into kept_sources that skips a hash already there (or twice in its SELECT)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(KeptSource)
    return sqlite.insert(KeptSource)


async def keep_live_sources(session: AsyncSession) -> dict[str, str]:
    """Copy every live python source not kept yet (one INSERT ... SELECT inside the database)
    and return the python manifest they make up: the state before the unit's edits."""
    not_kept = ~WorkspaceFile.content_hash.in_(select(KeptSource.content_hash))
    sources = select(WorkspaceFile.content_hash, WorkspaceFile.content).where(
        WorkspaceFile.is_deleted.is_(False),
        PYTHON,
        WorkspaceFile.content.is_not(None),
        not_kept,
    )
    statement = _insert_ignoring_kept(session).from_select(["content_hash", "content"], sources)
    await session.execute(statement.on_conflict_do_nothing(index_elements=["content_hash"]))
    rows = await session.execute(
        select(WorkspaceFile.path, WorkspaceFile.content_hash).where(
            WorkspaceFile.is_deleted.is_(False), PYTHON
        )
    )
    return {path: sha for path, sha in rows}


async def keep_source_of(session: AsyncSession, file_id: str, content_hash: str) -> None:
    """Keep the current content of one file row (its last good source, about to be replaced
    by a version that does not parse)."""
    sources = select(WorkspaceFile.content_hash, WorkspaceFile.content).where(
        WorkspaceFile.id == file_id,
        WorkspaceFile.content_hash == content_hash,
        WorkspaceFile.content.is_not(None),
        ~WorkspaceFile.content_hash.in_(select(KeptSource.content_hash)),
    )
    statement = _insert_ignoring_kept(session).from_select(["content_hash", "content"], sources)
    await session.execute(statement.on_conflict_do_nothing(index_elements=["content_hash"]))


async def keep_contents(session: AsyncSession, contents: dict[str, bytes]) -> None:
    """Keep sources given by hash (written and replaced again inside one unit)."""
    if not contents:
        return
    known = set(
        await session.scalars(
            select(KeptSource.content_hash).where(KeptSource.content_hash.in_(list(contents)))
        )
    )
    for sha, content in contents.items():
        if sha not in known:
            session.add(KeptSource(content_hash=sha, content=content))


async def keep_manifest(session: AsyncSession, generation: int, manifest: dict[str, str]) -> None:
    if await session.get(KeptManifest, generation) is None:
        session.add(KeptManifest(generation=generation, manifest=manifest, created_at=utcnow()))


async def manifest(db: Database, generation: int) -> dict[str, str] | None:
    async with db.read() as session:
        row = await session.get(KeptManifest, generation)
    return None if row is None else dict(row.manifest)


async def source(session: AsyncSession, content_hash: str) -> bytes | None:
    return await session.scalar(
        select(KeptSource.content).where(KeptSource.content_hash == content_hash)
    )


async def read_source(db: Database, content_hash: str) -> bytes | None:
    async with db.read() as session:
        return await source(session, content_hash)
