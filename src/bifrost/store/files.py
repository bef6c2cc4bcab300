"""File operations on the workspace: each is one transaction, then one cache update.

Validation happens before the transaction opens, so bad input is refused with nothing written.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from bifrost import names
from bifrost.cache.base import ModuleCache
from bifrost.cache.change import Change
from bifrost.errors import UserError
from bifrost.store.db import Database
from bifrost.store.models import Workflow, Workspace, WorkspaceFile, utcnow
from bifrost.store.objects import ObjectStore
from bifrost.workspace.entities import (
    Classification,
    UndecodableSource,
    classify,
    content_type,
    git_blob_sha,
)
from bifrost.workspace.paths import InvalidPath, check_python_path, lookalike, normalize_path

INLINE_LIMIT = 256 * 1024  # non-Python files above this go to the object store
PARSE_IN_THREAD = 256 * 1024


class ANY:
    """Marker: a write that does not compare the current content first."""


class EXISTS:
    """Marker: a write that happens only if the file exists (``If-Match: *``)."""


Expected = str | frozenset[str] | type[ANY] | type[EXISTS] | None
"""A write's precondition: ANY, EXISTS, None (only if absent), a hash or a set of hashes."""


def _satisfied(expected: Expected, current: str | None) -> bool:
    if expected is ANY:
        return True
    if expected is EXISTS:
        return current is not None
    if isinstance(expected, frozenset):
        return current in expected
    return current == expected


def _unsatisfied(path: str, expected: Expected, current: str | None) -> str:
    if current is None:
        return f"{path} does not exist; the write asked for a file that does"
    if expected is None:
        return f"{path} already exists; the write asked to create it only if it did not"
    return (
        f"{path} changed since you read it (its hash is now {current}); "
        "read it again and reapply your change"
    )


@dataclass
class WriteResult:
    file: WorkspaceFile
    generation: int
    changed: bool
    workflows: list[Workflow] = field(default_factory=list)


Listener = Callable[[Change], Awaitable[None]]


async def bump_generation(session: AsyncSession) -> int:
    """Take the next generation; on PostgreSQL the row lock also orders concurrent writers."""
    result = await session.execute(
        update(Workspace)
        .where(Workspace.id == 1)
        .values(generation=Workspace.generation + 1)
        .returning(Workspace.generation)
    )
    return result.scalar_one()


async def lock_workspace(session: AsyncSession) -> None:
    """Queue behind other writers before reading anything, so reads made for a decision (a
    compare-and-swap, "does the target exist") see every earlier commit. SQLite's BEGIN IMMEDIATE
    already does this; PostgreSQL needs the row lock."""
    await session.execute(select(Workspace.id).where(Workspace.id == 1).with_for_update())


async def refuse_lookalike(session: AsyncSession, path: str, leaving: str | None = None) -> None:
    """409 when a new live path differs from an existing one only by case or Unicode
    normalization (one file on macOS and Windows). Called under the workspace lock."""
    live = await session.scalars(
        select(WorkspaceFile.path).where(WorkspaceFile.is_deleted.is_(False))
    )
    clash = lookalike(path, (other for other in live if other != leaving))
    if clash is not None:
        raise UserError(
            f"{path} differs from the existing {clash} only by case or Unicode normalization; "
            f"on macOS and Windows they are the same name: use {clash} or another name",
            409,
        )


async def current_generation(session: AsyncSession) -> int:
    return (await session.scalar(select(Workspace.generation).where(Workspace.id == 1))) or 0


class Files:
    def __init__(
        self,
        db: Database,
        cache: ModuleCache,
        objects: ObjectStore,
        *,
        max_bytes: int,
        reserved: Callable[[], dict[str, str]],
    ) -> None:
        self.db = db
        self.cache = cache
        self.objects = objects
        self.max_bytes = max_bytes
        self.reserved = reserved
        self.listeners: list[Listener] = []

    def _validate(self, raw_path: str, content: bytes) -> tuple[str, Classification]:
        try:
            path = normalize_path(raw_path)
            check_python_path(path, self.reserved())
        except InvalidPath as exc:
            raise UserError(str(exc), getattr(exc, "status", 422)) from exc
        if len(content) > self.max_bytes:
            raise UserError(
                f"{path} is {len(content):,} bytes; the limit is {self.max_bytes:,} bytes "
                "(BIFROST_MAX_FILE_BYTES)",
                413,
            )
        try:
            return path, classify(path, content)
        except UndecodableSource as exc:
            raise UserError(str(exc)) from exc

    async def _checked(self, raw_path: str, content: bytes) -> tuple[str, Classification]:
        if len(content) > PARSE_IN_THREAD:  # a big AST parse must not stall the event loop
            return await asyncio.to_thread(self._validate, raw_path, content)
        return self._validate(raw_path, content)

    async def _committed(self, change: Change) -> None:
        await self.cache.apply(change)
        for listener in self.listeners:
            await listener(change)

    async def write(
        self,
        raw_path: str,
        content: bytes,
        *,
        user: str | None = None,
        expected_hash: Expected = ANY,
    ) -> WriteResult:
        """Create or replace a file. ``expected_hash`` makes it a compare-and-swap: the write
        happens only if the current content has that sha256 (None: only if the file is absent)."""
        path, found = await self._checked(raw_path, content)
        sha = hashlib.sha256(content).hexdigest()
        inline = await self._place(path, found, content, sha)
        async with self.db.write() as session:
            await lock_workspace(session)
            row = await session.scalar(select(WorkspaceFile).where(WorkspaceFile.path == path))
            current = None if row is None or row.is_deleted else row.content_hash
            if current is None:
                await refuse_lookalike(session, path)
            if not _satisfied(expected_hash, current):
                raise UserError(_unsatisfied(path, expected_hash, current), 409)
            if row is not None and not row.is_deleted and row.content_hash == sha:
                workflows = await session.scalars(
                    select(Workflow).where(Workflow.path == path, Workflow.is_active.is_(True))
                )
                generation = await current_generation(session)
                return WriteResult(row, generation, changed=False, workflows=list(workflows))
            generation = await bump_generation(session)
            row = self._fill(session, row, path, found, content, sha, inline, generation, user)
            workflows = await self._sync_workflows(session, path, found)
        blobs = {sha: content} if path.endswith(".py") else {}
        requirements = content if path == names.REQUIREMENTS_PATH else None
        await self._committed(Change(generation, {path: sha}, blobs, requirements))
        return WriteResult(row, generation, changed=True, workflows=workflows)

    async def _place(self, path: str, found: Classification, content: bytes, sha: str) -> bool:
        """Python and small text files live in the row; others go to the object store first
        (content-addressed, so an object whose commit then fails is harmless)."""
        inline = path.endswith(".py") or (
            found.entity_type != "binary" and len(content) <= INLINE_LIMIT
        )
        if not inline:
            await asyncio.to_thread(self.objects.put, sha, content)
        return inline

    @staticmethod
    def _fill(
        session: AsyncSession,
        row: WorkspaceFile | None,
        path: str,
        found: Classification,
        content: bytes,
        sha: str,
        inline: bool,
        generation: int,
        user: str | None,
    ) -> WorkspaceFile:
        """Write the content into ``path``'s row; a soft-deleted row is revived, keeping the
        base SHA of its last sync, so a later sync still knows what GitHub had there."""
        if row is None:
            row = WorkspaceFile(path=path, created_at=utcnow())
            session.add(row)
        entity_type = found.entity_type
        if found.syntax_error and row.entity_type in ("workflow", "data_provider"):
            entity_type = row.entity_type  # keep its workflows runnable, so the error shows
        row.entity_type = entity_type
        row.content = content if inline else None
        row.in_object_store = not inline
        row.content_hash = sha
        row.git_sha = git_blob_sha(content)
        row.size = len(content)
        row.content_type = content_type(path, content)
        row.diagnostics = found.syntax_error
        row.is_deleted = False
        row.generation = generation
        row.updated_at = utcnow()
        row.updated_by = user
        return row

    async def _sync_workflows(
        self, session: AsyncSession, path: str, found: Classification
    ) -> list[Workflow]:
        """Upsert by (path, function name) so ids survive edits; a broken file keeps its rows."""
        existing = {
            w.function_name: w
            for w in await session.scalars(select(Workflow).where(Workflow.path == path))
        }
        if found.syntax_error:
            return list(existing.values())
        now = utcnow()
        kept: list[Workflow] = []
        for definition in found.workflows:
            workflow = existing.pop(definition.function_name, None)
            if workflow is None:
                workflow = Workflow(
                    path=path, function_name=definition.function_name, created_at=now
                )
                session.add(workflow)
            workflow.name = str(definition.options.get("name") or definition.function_name)
            workflow.kind = definition.kind
            workflow.description = definition.description
            workflow.is_async = definition.is_async
            workflow.parameters = definition.parameters
            workflow.options = definition.options
            workflow.is_active = True
            workflow.is_orphaned = False
            workflow.updated_at = now
            kept.append(workflow)
        for gone in existing.values():
            gone.is_active = False
            gone.updated_at = now
        return kept

    async def read(self, raw_path: str) -> tuple[WorkspaceFile, bytes]:
        path = self._path(raw_path)
        async with self.db.read() as session:
            row = await session.scalar(
                select(WorkspaceFile).where(
                    WorkspaceFile.path == path, WorkspaceFile.is_deleted.is_(False)
                )
            )
        if row is None:
            raise UserError(f"{path} does not exist", 404)
        content = (
            await asyncio.to_thread(self.objects.get, row.content_hash)
            if row.in_object_store
            else row.content
        )
        if content is None:
            raise UserError(f"the content of {path} is missing from the object store", 500)
        return row, content

    async def list(self, prefix: str = "") -> list[WorkspaceFile]:
        async with self.db.read() as session:
            query = (
                select(WorkspaceFile)
                .options(defer(WorkspaceFile.content))  # metadata only: never load contents
                .where(WorkspaceFile.is_deleted.is_(False))
            )
            if prefix:
                query = query.where(WorkspaceFile.path.startswith(prefix, autoescape=True))
            return list(await session.scalars(query.order_by(WorkspaceFile.path)))

    async def delete(self, raw_path: str, *, user: str | None = None) -> int:
        """Soft delete: the row and its content stay, so a sync can still see what was there."""
        path = self._path(raw_path)
        async with self.db.write() as session:
            await lock_workspace(session)
            row = await session.scalar(
                select(WorkspaceFile).where(
                    WorkspaceFile.path == path, WorkspaceFile.is_deleted.is_(False)
                )
            )
            if row is None:
                raise UserError(f"{path} does not exist", 404)
            generation = await bump_generation(session)
            self._soft_delete(row, generation, user)
            await session.execute(
                update(Workflow).where(Workflow.path == path).values(is_active=False)
            )
        await self._committed(Change(generation, {path: None}, {}))
        return generation

    async def rename(self, old: str, new: str, *, user: str | None = None) -> WriteResult:
        """Move one file: a delete of the old path plus a write of the new one, in one
        transaction. Both rows keep their sync history (the old one soft-deleted with its base
        SHA), and the file's workflows move with it, keeping their ids."""
        old_path = self._path(old)
        row, content = await self.read(old_path)
        new_path, found = await self._checked(new, content)
        if new_path == old_path:
            raise UserError("the new path is the same as the old one")
        sha = row.content_hash
        inline = await self._place(new_path, found, content, sha)
        async with self.db.write() as session:
            await lock_workspace(session)
            rows = {
                r.path: r
                for r in await session.scalars(
                    select(WorkspaceFile).where(WorkspaceFile.path.in_((old_path, new_path)))
                )
            }
            source, target = rows.get(old_path), rows.get(new_path)
            if target is not None and not target.is_deleted:
                raise UserError(f"{new_path} already exists; delete it first", 409)
            if source is None or source.is_deleted or source.content_hash != sha:
                raise UserError(f"{old_path} changed during the rename; try again", 409)
            await refuse_lookalike(session, new_path, leaving=old_path)
            generation = await bump_generation(session)
            self._soft_delete(source, generation, user)
            moved = self._fill(
                session, target, new_path, found, content, sha, inline, generation, user
            )
            # Rows left at the target belonged to a deleted file and are inactive.
            await session.execute(delete(Workflow).where(Workflow.path == new_path))
            await session.execute(
                update(Workflow).where(Workflow.path == old_path).values(path=new_path)
            )
            workflows = await self._sync_workflows(session, new_path, found)
        blobs = {sha: content} if new_path.endswith(".py") else {}
        requirements = content if new_path == names.REQUIREMENTS_PATH else None
        await self._committed(
            Change(generation, {old_path: None, new_path: sha}, blobs, requirements)
        )
        return WriteResult(moved, generation, changed=True, workflows=workflows)

    @staticmethod
    def _soft_delete(row: WorkspaceFile, generation: int, user: str | None) -> None:
        row.is_deleted = True
        row.generation = generation
        row.updated_at = utcnow()
        row.updated_by = user

    @staticmethod
    def _path(raw_path: str) -> str:
        try:
            return normalize_path(raw_path)
        except InvalidPath as exc:
            raise UserError(str(exc)) from exc
