"""The workspace's side of a sync, read in bulk, and the last tree read from the branch.

Queries only: the three-way plan (``bifrost.github.plan``) decides what the SHAs mean. A preview of
thousands of files costs one query for both maps, whatever their size.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from bifrost.errors import Conflict, Inconsistent
from bifrost.store.db import Database
from bifrost.store.files import BULK
from bifrost.store.models import GitHubRemote, Workflow, WorkspaceFile, utcnow
from bifrost.store.objects import ObjectStore, load

SNAPSHOT_ID = 1


@dataclass(frozen=True)
class LocalFile:
    sha: str  # git blob id of the live content
    mode: str


@dataclass(frozen=True)
class WorkspaceSide:
    """``bases``: path -> ``github_sha`` of every row that has one, soft-deleted rows included
    (a file deleted here still remembers what GitHub had); ``files``: the live rows."""

    bases: dict[str, str] = field(default_factory=dict)
    files: dict[str, LocalFile] = field(default_factory=dict)

    @property
    def local(self) -> dict[str, str]:
        """path -> git blob id, the plan's ``local`` map."""
        return {path: file.sha for path, file in self.files.items()}


@dataclass(frozen=True)
class RemoteSnapshot:
    """The branch as last read: ``entries`` maps every path to ``(mode, sha)``, blobs and (mode
    040000) the trees above them, so an unchanged subtree need not be listed again."""

    commit_sha: str
    tree_sha: str
    etag: str | None
    entries: dict[str, tuple[str, str]] = field(default_factory=dict)


async def workspace_side(db: Database) -> WorkspaceSide:
    """Bases and live files in one query, so both describe the same moment."""
    query = select(
        WorkspaceFile.path,
        WorkspaceFile.github_sha,
        WorkspaceFile.git_sha,
        WorkspaceFile.mode,
        WorkspaceFile.is_deleted,
    ).where(or_(WorkspaceFile.github_sha.is_not(None), WorkspaceFile.is_deleted.is_(False)))
    side = WorkspaceSide()
    async with db.read() as session:
        for path, base, sha, mode, is_deleted in await session.execute(query):
            if base is not None:
                side.bases[path] = base
            if not is_deleted:
                side.files[path] = LocalFile(sha, mode)
    return side


async def contents(
    db: Database, objects: ObjectStore, wanted: Mapping[str, str]
) -> dict[str, bytes]:
    """The live bytes of each ``path -> git sha`` in ``wanted``; Conflict if one changed since."""
    found: dict[str, bytes] = {}
    paths = sorted(wanted)
    async with db.read() as session:
        for start in range(0, len(paths), BULK):
            rows = await session.execute(
                select(
                    WorkspaceFile.path,
                    WorkspaceFile.git_sha,
                    WorkspaceFile.content,
                    WorkspaceFile.in_object_store,
                    WorkspaceFile.content_hash,
                ).where(
                    WorkspaceFile.path.in_(paths[start : start + BULK]),
                    WorkspaceFile.is_deleted.is_(False),
                )
            )
            for path, sha, content, in_object_store, content_hash in rows:
                if sha != wanted[path]:
                    continue
                if in_object_store:
                    content = await load(objects, content_hash, path)
                if content is None:
                    raise Inconsistent(f"the row of {path} has no content and no object")
                found[path] = content
    changed = set(wanted) - set(found)
    if changed:
        raise Conflict(
            f"{min(changed)} changed (or was deleted) while the sync was being worked out; "
            "ask again"
        )
    return found


async def active_workflows(db: Database, paths: Collection[str]) -> list[Workflow]:
    """The active workflows of the files at ``paths``, by file and function."""
    ordered = sorted(paths)
    found: list[Workflow] = []
    async with db.read() as session:
        for start in range(0, len(ordered), BULK):
            found.extend(
                await session.scalars(
                    select(Workflow)
                    .where(
                        Workflow.path.in_(ordered[start : start + BULK]),
                        Workflow.is_active.is_(True),
                    )
                    .order_by(Workflow.path, Workflow.function_name)
                )
            )
    return found


async def workflow_functions(db: Database, paths: Collection[str]) -> dict[str, set[str]]:
    """path -> the function names any workflow row (orphan, inactive...) has at ``paths``: a
    write there finds those rows again rather than creating new ones."""
    ordered = sorted(paths)
    found: dict[str, set[str]] = {}
    async with db.read() as session:
        for start in range(0, len(ordered), BULK):
            rows = await session.execute(
                select(Workflow.path, Workflow.function_name).where(
                    Workflow.path.in_(ordered[start : start + BULK])
                )
            )
            for path, function_name in rows:
                found.setdefault(path, set()).add(function_name)
    return found


async def load_snapshot(db: Database) -> RemoteSnapshot | None:
    async with db.read() as session:
        row = await session.get(GitHubRemote, SNAPSHOT_ID)
    if row is None:
        return None
    return RemoteSnapshot(
        commit_sha=row.commit_sha,
        tree_sha=row.tree_sha,
        etag=row.etag,
        entries={path: (mode, sha) for path, (mode, sha) in row.entries.items()},
    )


async def save_snapshot(db: Database, snapshot: RemoteSnapshot) -> None:
    """Replace the stored snapshot (one row) in one transaction.

    Two first saves at once collide on the row's key; the loser keeps the winner's snapshot,
    which is as good: each is one consistent read of the branch, and the ETag tells a stale one.
    """
    try:
        async with db.write() as session:
            row = await session.get(GitHubRemote, SNAPSHOT_ID)
            if row is None:
                row = GitHubRemote(id=SNAPSHOT_ID)
                session.add(row)
            row.commit_sha = snapshot.commit_sha
            row.tree_sha = snapshot.tree_sha
            row.etag = snapshot.etag
            row.entries = {path: [mode, sha] for path, (mode, sha) in snapshot.entries.items()}
            row.read_at = utcnow()
    except IntegrityError:
        return
