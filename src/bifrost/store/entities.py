"""Forms, agents and apps: their rows are an index over their files, kept by the unit of work.

Every unit that writes, deletes or renames an entity file (``*.form.json``, ``*.agent.json``,
``*.app.json``) updates the file's ``entities`` row and its ``entity_refs`` in the same
transaction (:class:`EntityIndex`), and every unit that touches a ``.py`` file re-resolves the
references that name a workflow of that file, so ``broken_refs`` is never stale. A reference is
resolved by what the file says (``path::function``) and nothing else: two instances holding the
same files hold the same flags. The queries the API needs (list, get) are at the end.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import String, cast, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bifrost.errors import NotFound
from bifrost.store.db import Database
from bifrost.store.models import Entity, EntityRef, Workflow, new_id, utcnow
from bifrost.store.paging import Order, Page, fetch_page
from bifrost.workspace.entity_schemas import ParsedEntity

BULK = 500


def _chunks(items: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(items)
    for start in range(0, len(ordered), BULK):
        yield ordered[start : start + BULK]


async def resolve_targets(
    session: AsyncSession, targets: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], str | None]:
    """``(path, function)`` -> the id of a workflow row of that function, or None. Every row
    counts: an orphan keeps its code and runs, and a deactivated workflow exists (it refuses to
    run on its own, with its own message)."""
    wanted = set(targets)
    found: dict[tuple[str, str], str | None] = dict.fromkeys(wanted)
    for chunk in _chunks({path for path, _ in wanted}):
        rows = await session.execute(
            select(Workflow.path, Workflow.function_name, Workflow.id)
            .where(Workflow.path.in_(chunk))
            .order_by(Workflow.created_at, Workflow.id)  # the oldest row: the function's own
        )
        for path, function, workflow_id in rows:
            if found.get((path, function), "") is None:
                found[(path, function)] = workflow_id
    return found


async def workflow_of(db: Database, entity_id: str, target: str) -> str | None:
    """The workflow an entity's ``path::function`` reference resolved to, or None (broken)."""
    async with db.read() as session:
        return await session.scalar(
            select(EntityRef.workflow_id).where(
                EntityRef.entity_id == entity_id, EntityRef.target == target
            )
        )


class EntityIndex:
    """One unit's changes to the entity rows: loaded for its paths, changed edit by edit in
    memory, written out (refs resolved) by :meth:`finish` after its last edit."""

    def __init__(self, session: AsyncSession, user: str | None) -> None:
        self.session = session
        self.user = user
        self.rows: dict[str, Entity] = {}  # path -> row (soft-deleted ones too)
        self.parsed: dict[str, ParsedEntity] = {}  # rows whose refs this unit rewrites
        self.gone: set[str] = set()  # entity ids whose refs this unit drops
        self.python: set[str] = set()  # .py paths touched: their workflows may have changed

    async def load(self, paths: Iterable[str]) -> None:
        for chunk in _chunks(paths):
            for row in await self.session.scalars(select(Entity).where(Entity.path.in_(chunk))):
                self.rows[row.path] = row

    def live(self, path: str) -> Entity | None:
        row = self.rows.get(path)
        return None if row is None or row.is_deleted else row

    def write(self, path: str, parsed: ParsedEntity | None, generation: int) -> None:
        """``path`` now holds ``parsed`` (None: it is no entity file, any row is dropped)."""
        if parsed is None:
            self.delete(path, generation)
            return
        row = self.rows.get(path)
        if row is None:
            row = Entity(id=new_id(), path=path, created_at=utcnow(), broken_refs=[])
            self.session.add(row)
            self.rows[path] = row
        row.kind = parsed.kind
        row.name = parsed.name
        row.definition = parsed.definition
        row.invalid = parsed.invalid
        row.is_deleted = False
        row.generation = generation
        row.updated_at = utcnow()
        row.updated_by = self.user
        self.parsed[path] = parsed
        self.gone.discard(row.id)

    def delete(self, path: str, generation: int) -> None:
        row = self.live(path)
        if row is None:
            return
        row.is_deleted = True
        row.broken_refs = []
        row.generation = generation
        row.updated_at = utcnow()
        row.updated_by = self.user
        self.parsed.pop(path, None)
        self.gone.add(row.id)

    async def rename(self, old: str, new: str) -> None:
        """The row moves with its file, keeping its id; a deleted row left at ``new`` goes."""
        row = self.live(old)
        if row is None:
            return
        leftover = self.rows.pop(new, None)
        if leftover is not None:  # a live one there made the rename a Conflict before this
            self.gone.discard(leftover.id)
            await self.session.delete(leftover)
            await self.session.flush()  # before the moved row takes its path (unique)
        self.rows.pop(old)
        self.parsed.pop(old, None)
        row.path = new
        self.rows[new] = row

    def touched_python(self, path: str) -> None:
        self.python.add(path)

    async def finish(self) -> None:
        """Write the refs of the entities this unit changed and re-resolve every reference
        into a .py file it touched."""
        rewritten = {self.rows[path].id: parsed for path, parsed in self.parsed.items()}
        dropped = self.gone | set(rewritten)
        for chunk in _chunks(dropped):
            await self.session.execute(delete(EntityRef).where(EntityRef.entity_id.in_(chunk)))
        for entity_id, parsed in rewritten.items():
            for ref in parsed.refs:
                self.session.add(
                    EntityRef(
                        entity_id=entity_id,
                        role=ref.role,
                        target=ref.target,
                        path=ref.path,
                        function_name=ref.function_name,
                    )
                )
        await refresh_paths(self.session, self.python, also=rewritten)


async def refresh_paths(
    session: AsyncSession, paths: Iterable[str], *, also: Iterable[str] = ()
) -> None:
    """Re-resolve every reference into the ``.py`` files at ``paths`` (and all of the entities
    ``also`` names): what a change to those files' workflows must be followed by, in the same
    transaction. Anything that changes workflow rows outside a unit of work (activate,
    deactivate, replace) calls it with the paths it changed."""
    affected = set(also)
    for chunk in _chunks(paths):
        affected.update(
            await session.scalars(
                select(EntityRef.entity_id).where(EntityRef.path.in_(chunk)).distinct()
            )
        )
    if affected:
        await refresh(session, affected)


async def refresh(session: AsyncSession, entity_ids: Iterable[str]) -> None:
    """Resolve every reference of these entities again and set their ``broken_refs``."""
    refs: list[EntityRef] = []
    for chunk in _chunks(entity_ids):
        refs.extend(await session.scalars(select(EntityRef).where(EntityRef.entity_id.in_(chunk))))
    # A reference keeps the workflow it resolved to while that row exists, wherever it moved:
    # a file renamed with its function, or an orphan replaced by another function, keeps the
    # id, "and so every reference to it". Only the unresolved ones are looked up by name.
    held = {r.workflow_id for r in refs if r.workflow_id is not None}
    existing: set[str] = set()
    for chunk in _chunks(held):
        existing.update(await session.scalars(select(Workflow.id).where(Workflow.id.in_(chunk))))
    loose = [r for r in refs if r.workflow_id not in existing]
    resolved = await resolve_targets(session, ((r.path, r.function_name) for r in loose))
    broken: dict[str, set[str]] = {entity_id: set() for entity_id in entity_ids}
    for ref in loose:
        ref.workflow_id = resolved[(ref.path, ref.function_name)]
        if ref.workflow_id is None:
            broken[ref.entity_id].add(ref.target)
    for chunk in _chunks(broken):
        for entity in await session.scalars(select(Entity).where(Entity.id.in_(chunk))):
            flagged = [] if entity.is_deleted else sorted(broken[entity.id])
            if entity.broken_refs != flagged:
                entity.broken_refs = flagged


# ---- queries ---------------------------------------------------------------------------------

ORDER = Order("entities", (Entity.path,))


async def listed(
    db: Database, kind: str, *, cursor: str | None = None, limit: int = 500
) -> Page[Entity]:
    query = select(Entity).where(Entity.kind == kind, Entity.is_deleted.is_(False))
    async with db.read() as session:
        return await fetch_page(session, query, ORDER, cursor=cursor, limit=limit)


async def get(db: Database, kind: str, entity_id: str) -> Entity:
    async with db.read() as session:
        row = await session.get(Entity, entity_id)
    if row is None or row.kind != kind or row.is_deleted:
        raise NotFound(f"no {kind} has id {entity_id}")
    return row


async def by_path(db: Database, path: str) -> Entity | None:
    async with db.read() as session:
        return await session.scalar(
            select(Entity).where(Entity.path == path, Entity.is_deleted.is_(False))
        )


async def live_at(session: AsyncSession, path: str) -> Entity | None:
    return await session.scalar(
        select(Entity).where(Entity.path == path, Entity.is_deleted.is_(False))
    )


async def refs_of(db: Database, entity_id: str) -> list[EntityRef]:
    async with db.read() as session:
        return list(
            await session.scalars(
                select(EntityRef)
                .where(EntityRef.entity_id == entity_id)
                .order_by(EntityRef.role, EntityRef.target)
            )
        )


async def broken(db: Database) -> list[Entity]:
    """Every live entity with a reference to no workflow, by path."""
    async with db.read() as session:
        rows = await session.scalars(
            select(Entity)
            .where(Entity.is_deleted.is_(False), cast(Entity.broken_refs, String) != "[]")
            .order_by(Entity.path)
        )
        return [row for row in rows if row.broken_refs]


async def refs_by_path(
    session: AsyncSession, paths: Iterable[str]
) -> dict[str, list[tuple[str, str]]]:
    """Live entity path -> its ``(path, function)`` references."""
    found: dict[str, list[tuple[str, str]]] = {}
    for chunk in _chunks(paths):
        rows = await session.execute(
            select(Entity.path, EntityRef.path, EntityRef.function_name)
            .join(EntityRef, EntityRef.entity_id == Entity.id)
            .where(Entity.path.in_(chunk), Entity.is_deleted.is_(False))
        )
        for entity_path, path, function in rows:
            found.setdefault(entity_path, []).append((path, function))
    return found


__all__ = [
    "EntityIndex",
    "broken",
    "by_path",
    "get",
    "listed",
    "refresh",
    "refresh_paths",
    "refs_by_path",
    "refs_of",
    "resolve_targets",
    "workflow_of",
]
