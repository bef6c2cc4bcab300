"""File operations on the workspace as units of work: several edits, one transaction, one
generation bump, then one cache update.

Validation (paths, sizes, decoding, the AST classification) happens before the transaction opens,
so bad input is refused with nothing written; an edit that fails inside it (a lost compare-and-swap,
a missing file) rolls the whole unit back. Rows and workflows of every path a unit touches are read
in a few bulk queries and its new rows are inserted in one executemany, so a unit of thousands of
files (a GitHub pull) costs no per-file round trip.
The single-file operations (:meth:`Files.write`, :meth:`Files.delete`, :meth:`Files.rename`) are
one-edit units.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer
from sqlalchemy.orm.attributes import set_committed_value

from bifrost import names
from bifrost.cache.base import ModuleCache
from bifrost.cache.change import Change
from bifrost.errors import Conflict, Inconsistent, InvalidInput, NotFound, TooLarge
from bifrost.store import kept
from bifrost.store.db import Database
from bifrost.store.entities import EntityIndex
from bifrost.store.models import Entity, Workflow, Workspace, WorkspaceFile, new_id, utcnow
from bifrost.store.objects import ObjectStore, load
from bifrost.store.paging import Order, Page, fetch_page
from bifrost.workspace.entities import Classification, classify, content_type, git_blob_sha
from bifrost.workspace.entity_schemas import KINDS, ParsedEntity, parse_entity
from bifrost.workspace.paths import Spellings, check_python_path, normalize_path

INLINE_LIMIT = 256 * 1024  # non-Python files above this go to the object store
PARSE_IN_THREAD = 256 * 1024
BULK = 500  # paths per IN (...) query: far below every back end's parameter limit
_GIT_SHA = re.compile(r"[0-9a-f]{40}")
MODES = ("100644", "100755", "120000")  # file, executable, symlink: the blobs git syncs
DEFAULT_MODE = MODES[0]


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


@dataclass(frozen=True)
class Write:
    """Create or replace ``path``. ``expected_hash`` makes it a compare-and-swap: it happens only
    if the current content has that sha256 (or one of a set; EXISTS: if the file exists; None:
    only if it is absent). ``mode`` is the git file mode to keep on the row (a pull keeps the
    branch's executable bit and symlinks); None keeps the row's own (a new file: 100644)."""

    path: str
    content: bytes
    expected_hash: Expected = ANY
    mode: str | None = None


@dataclass(frozen=True)
class Delete:
    """Soft delete: the row and its content stay, so a sync can still see what was there."""

    path: str


@dataclass(frozen=True)
class Rename:
    """A delete of ``old`` plus a write of ``new``; the file's workflows move, keeping their ids
    (its orphans stay at ``old``, where their kept code would be recreated)."""

    old: str
    new: str


@dataclass(frozen=True)
class SetBase:
    """Record ``github_sha`` (a git blob id, or None) as what GitHub had at ``path`` at the last
    sync. It changes no content, so on its own it bumps no generation."""

    path: str
    github_sha: str | None


Edit = Write | Delete | Rename | SetBase


@dataclass
class WriteResult:
    file: WorkspaceFile
    generation: int
    changed: bool
    workflows: list[Workflow] = field(default_factory=list)


@dataclass(frozen=True)
class Moved:
    """Workflows a unit moved from a file it removed to one it wrote (same function name and
    parameters), keeping their ids instead of orphaning them."""

    old: str
    new: str
    workflows: list[Workflow]


@dataclass
class Applied:
    """What a unit did: its generation (the new one if anything changed), one result per edit
    in order, the workflows it orphaned and the ones it moved to another file."""

    generation: int
    changed: bool
    results: list[WriteResult]
    orphaned: list[Workflow] = field(default_factory=list)
    moved: list[Moved] = field(default_factory=list)


Listener = Callable[[Change], Awaitable[None]]
Precondition = Callable[[AsyncSession], Awaitable[None]]


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


async def current_generation(session: AsyncSession) -> int:
    return (await session.scalar(select(Workspace.generation).where(Workspace.id == 1))) or 0


async def workspace_generation(db: Database) -> int:
    """The generation of the newest committed change."""
    async with db.read() as session:
        return await current_generation(session)


@dataclass(frozen=True)
class _Content:
    """Validated content bound for one path, already placed in the object store if it goes there."""

    path: str
    found: Classification
    content: bytes
    sha: str
    inline: bool
    entity: ParsedEntity | None = None  # what a form, agent or app file says


@dataclass(frozen=True)
class _Write:
    target: _Content
    expected_hash: Expected
    mode: str | None = None


@dataclass(frozen=True)
class _Rename:
    old: str
    target: _Content


_Prepared = _Write | Delete | _Rename | SetBase


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

    # ---- the unit of work ------------------------------------------------------------------

    async def apply(
        self,
        edits: Sequence[Edit],
        *,
        user: str | None = None,
        precondition: Precondition | None = None,
        allow_orphans: Collection[str] | None = None,
    ) -> Applied:
        """Apply ``edits`` in order, all or none, in one transaction; one generation bump if any
        content changed, and then one :class:`Change` to the cache and listeners.

        ``precondition`` runs first inside that transaction, once the workspace is locked: if it
        raises, nothing is written; what it writes itself commits with the edits (a sync checks
        its lease there and records the commit it applied, so both land with the files or not
        at all).

        ``allow_orphans`` (workflow ids): when given, the unit is refused if it would orphan an
        active workflow not among them (a sync orphans only what its user confirmed)."""
        prepared = await self._prepare(edits)
        async with self.db.write() as session:
            await lock_workspace(session)
            if precondition is not None:
                await precondition(session)
            unit = _Unit(session, user)
            await unit.load(_touched(prepared))
            if unit.may_orphan(prepared):
                await unit.keep_before()
            for edit in prepared:
                unit.results.append(await unit.apply(edit))
            await unit.settle_workflows()
            if allow_orphans is not None:
                _refuse_unconfirmed(unit.vanished.values(), allow_orphans)
            await unit.insert_new()
            await unit.entities.finish()
            generation = unit.generation or await current_generation(session)
        for result in unit.results:
            result.generation = generation
        if unit.generation is not None:
            await self._committed(unit.change())
        orphaned = list(unit.vanished.values())
        return Applied(generation, unit.generation is not None, unit.results, orphaned, unit.moved)

    async def _prepare(self, edits: Sequence[Edit]) -> list[_Prepared]:
        """Everything that can be checked without the database's current state, before the
        transaction opens: a bad edit anywhere refuses the unit with nothing written."""
        prepared: list[_Prepared] = []
        written: dict[str, bytes] = {}  # content an earlier edit of this unit gives a path
        reserved = functools.cache(self.reserved)  # one scan of the installed names a unit
        for edit in edits:
            if isinstance(edit, Write):
                if edit.mode is not None and edit.mode not in MODES:
                    raise InvalidInput(f"{edit.mode!r} is not a file mode: use one of {MODES}")
                target = await self._content(edit.path, edit.content, reserved())
                written[target.path] = edit.content
                prepared.append(_Write(target, edit.expected_hash, edit.mode))
            elif isinstance(edit, Delete):
                path = normalize_path(edit.path)
                written.pop(path, None)
                prepared.append(Delete(path))
            elif isinstance(edit, Rename):
                old = normalize_path(edit.old)
                content = written.pop(old) if old in written else (await self.read(old))[1]
                target = await self._content(edit.new, content, reserved())
                if target.path == old:
                    raise InvalidInput("the new path is the same as the old one")
                written[target.path] = content
                prepared.append(_Rename(old, target))
            else:
                if edit.github_sha is not None and not _GIT_SHA.fullmatch(edit.github_sha):
                    raise InvalidInput(
                        f"{edit.github_sha!r} is not a git blob id (40 lowercase hex digits)"
                    )
                prepared.append(SetBase(normalize_path(edit.path), edit.github_sha))
        return prepared

    async def _content(self, path: str, content: bytes, reserved: dict[str, str]) -> _Content:
        if len(content) > PARSE_IN_THREAD:  # a big AST parse must not stall the event loop
            found = await asyncio.to_thread(self._validate, path, content, reserved)
        else:
            found = self._validate(path, content, reserved)
        sha = hashlib.sha256(content).hexdigest()
        entity = None
        if found.entity_type in KINDS:
            entity = parse_entity(found.entity_type, path, content)
        inline = await self._place(path, found, content, sha)
        return _Content(path, found, content, sha, inline, entity)

    def _validate(self, path: str, content: bytes, reserved: dict[str, str]) -> Classification:
        """normalize_path (which returns the path unchanged or refuses it) runs inside
        check_python_path, for every file."""
        check_python_path(path, reserved)
        if len(content) > self.max_bytes:
            raise TooLarge(
                f"{path} is {len(content):,} bytes; the limit is {self.max_bytes:,} bytes "
                "(BIFROST_MAX_FILE_BYTES)"
            )
        return classify(path, content)

    async def _place(self, path: str, found: Classification, content: bytes, sha: str) -> bool:
        """Python and small text files live in the row; others go to the object store first
        (content-addressed, so an object whose commit then fails is harmless)."""
        inline = path.endswith(".py") or (
            found.entity_type != "binary" and len(content) <= INLINE_LIMIT
        )
        if not inline:
            await asyncio.to_thread(self.objects.put, sha, content)
        return inline

    async def _committed(self, change: Change) -> None:
        await self.cache.apply(change)
        for listener in self.listeners:
            await listener(change)

    # ---- one-edit units --------------------------------------------------------------------

    async def write(
        self,
        raw_path: str,
        content: bytes,
        *,
        user: str | None = None,
        expected_hash: Expected = ANY,
    ) -> WriteResult:
        """Create or replace a file (see :class:`Write`)."""
        return (await self.apply([Write(raw_path, content, expected_hash)], user=user)).results[0]

    async def delete(self, raw_path: str, *, user: str | None = None) -> int:
        """Soft delete one file; returns the new generation."""
        return (await self.apply([Delete(raw_path)], user=user)).generation

    async def rename(self, old: str, new: str, *, user: str | None = None) -> WriteResult:
        """Move one file (see :class:`Rename`)."""
        return (await self.apply([Rename(old, new)], user=user)).results[0]

    async def reindex(self) -> int:
        """Index the files written before the entity index existed (entity files with no row,
        .py files with no recorded imports) by writing each back unchanged: no generation bump,
        nothing to sync. Returns how many files it read; run by ``bifrost init``."""
        async with self.db.read() as session:
            indexed = select(Entity.path).where(Entity.path == WorkspaceFile.path).exists()
            paths = list(
                await session.scalars(
                    select(WorkspaceFile.path)
                    .where(WorkspaceFile.is_deleted.is_(False))
                    .where(
                        or_(
                            and_(WorkspaceFile.entity_type.in_(KINDS), ~indexed),
                            and_(
                                WorkspaceFile.path.endswith(".py"),
                                WorkspaceFile.imports.is_(None),
                            ),
                        )
                    )
                    .order_by(WorkspaceFile.path)
                )
            )
        for start in range(0, len(paths), BULK):
            edits = []
            for path in paths[start : start + BULK]:
                row, content = await self.read(path)
                edits.append(Write(path, content, row.content_hash))
            try:
                await self.apply(edits)
            except (Conflict, NotFound):  # changed meanwhile: that write indexed it
                continue
        return len(paths)

    # ---- reads -----------------------------------------------------------------------------

    async def read(self, raw_path: str) -> tuple[WorkspaceFile, bytes]:
        path = normalize_path(raw_path)
        async with self.db.read() as session:
            row = await session.scalar(
                select(WorkspaceFile).where(
                    WorkspaceFile.path == path, WorkspaceFile.is_deleted.is_(False)
                )
            )
        if row is None:
            raise NotFound(f"{path} does not exist")
        if row.in_object_store:
            return row, await load(self.objects, row.content_hash, path)
        if row.content is None:
            raise Inconsistent(f"the row of {path} has no content and no object")
        return row, row.content

    async def list(self, prefix: str = "") -> list[WorkspaceFile]:
        """Every live file under ``prefix``, by path: for the server's own use (export)."""
        async with self.db.read() as session:
            return list(await session.scalars(_listing(prefix).order_by(WorkspaceFile.path)))

    async def page(
        self, prefix: str = "", *, cursor: str | None = None, limit: int = 500
    ) -> Page[WorkspaceFile]:
        """One page of :meth:`list`, for clients: a listing's size grows with the workspace."""
        async with self.db.read() as session:
            query = _listing(prefix)
            return await fetch_page(session, query, FILE_ORDER, cursor=cursor, limit=limit)


FILE_ORDER = Order("files", (WorkspaceFile.path,))


def _listing(prefix: str) -> Select[tuple[WorkspaceFile]]:
    """Live files under ``prefix``, metadata only (never their contents)."""
    query = (
        select(WorkspaceFile)
        .options(defer(WorkspaceFile.content))
        .where(WorkspaceFile.is_deleted.is_(False))
    )
    if prefix:
        query = query.where(WorkspaceFile.path.startswith(prefix, autoescape=True))
    return query


def _refuse_unconfirmed(orphaned: Iterable[Workflow], allowed: Collection[str]) -> None:
    unconfirmed = [w for w in orphaned if w.is_active and w.id not in allowed]
    if unconfirmed:
        listed = ", ".join(f"{w.name} ({w.path}::{w.function_name})" for w in unconfirmed)
        raise Conflict(
            f"this change would also orphan {listed}, which was not confirmed; nothing was "
            "changed: preview again"
        )


def _touched(prepared: Iterable[_Prepared]) -> set[str]:
    paths: set[str] = set()
    for edit in prepared:
        if isinstance(edit, _Write):
            paths.add(edit.target.path)
        elif isinstance(edit, _Rename):
            paths.update((edit.old, edit.target.path))
        else:
            paths.add(edit.path)
    return paths


def _chunks(paths: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(paths)
    for start in range(0, len(ordered), BULK):
        yield ordered[start : start + BULK]


class _Unit:
    """One unit's transaction: the rows and workflows of its paths in memory, the edits applied
    to them in order, and the :class:`Change` they add up to."""

    def __init__(self, session: AsyncSession, user: str | None) -> None:
        self.session = session
        self.user = user
        self.rows: dict[str, WorkspaceFile] = {}
        self.new: list[WorkspaceFile] = []  # rows for paths with none yet, inserted in bulk
        self.workflows: dict[str, list[Workflow]] = {}  # path -> rows (a key may have two)
        self.pending: list[Workflow] = []  # new rows, added once renames are matched
        self.vanished: dict[str, Workflow] = {}  # rows this unit orphaned, by id
        self.moved: list[Moved] = []
        self.before: dict[str, str] | None = None  # python manifest before the unit's edits
        self.before_generation = 0
        self.sources: dict[str, bytes] = {}  # python content this unit wrote, by sha256
        self.generation: int | None = None  # taken at the first edit that changes content
        self.paths: dict[str, str | None] = {}  # the Change: path -> new sha256 or None
        self.contents: dict[str, bytes] = {}
        self.results: list[WriteResult] = []
        self.spellings: Spellings | None = None  # live paths, read at the first new path
        self.entities = EntityIndex(session, user)  # the form, agent and app rows

    async def load(self, paths: set[str]) -> None:
        for chunk in _chunks(paths):
            rows = await self.session.scalars(
                select(WorkspaceFile)
                .options(defer(WorkspaceFile.content))  # replaced or kept, never needed here
                .where(WorkspaceFile.path.in_(chunk))
            )
            self.rows.update((row.path, row) for row in rows)
            for workflow in await self.session.scalars(
                select(Workflow).where(Workflow.path.in_(chunk)).order_by(Workflow.id)
            ):
                self.workflows.setdefault(workflow.path, []).append(workflow)
        await self.entities.load(paths)

    def may_orphan(self, prepared: Sequence[_Prepared]) -> bool:
        """Whether some edit would leave a workflow without its function: the edits replayed
        over the functions each path defines, so the kept state is copied only when needed."""
        defined = {
            path: {w.function_name for w in rows if not w.is_orphaned}
            for path, rows in self.workflows.items()
        }
        for edit in prepared:
            if isinstance(edit, Delete):
                if defined.pop(edit.path, None):
                    return True
            elif isinstance(edit, SetBase):
                continue
            else:
                target = edit.target
                have = defined.get(target.path, set())
                if isinstance(edit, _Rename):
                    have = have | defined.pop(edit.old, set())
                defines = {d.function_name for d in target.found.workflows}
                if have and not target.found.syntax_error and have - defines:
                    return True
                defined[target.path] = have
        return False

    async def keep_before(self) -> None:
        """Keep the python sources and manifest as they are before any edit: the code the
        workflows this unit orphans go on running."""
        self.before_generation = await current_generation(self.session)
        self.before = await kept.keep_live_sources(self.session)

    async def _next_generation(self) -> int:
        if self.generation is None:
            self.generation = await bump_generation(self.session)
        return self.generation

    def _live(self, path: str) -> WorkspaceFile | None:
        row = self.rows.get(path)
        return None if row is None or row.is_deleted else row

    async def _refuse_lookalike(self, path: str) -> None:
        """A new live path may not differ from an existing one only by case or Unicode
        normalization: on macOS and Windows they are one file."""
        if self.spellings is None:  # autoflush: the query sees this unit's edits so far
            live = await self.session.scalars(
                select(WorkspaceFile.path).where(WorkspaceFile.is_deleted.is_(False))
            )
            self.spellings = Spellings(live)
        clash = self.spellings.clash(path)
        if clash is not None:
            raise Conflict(
                f"{path} differs from the existing {clash} only by case or Unicode "
                f"normalization; on macOS and Windows they are the same name: use {clash} or "
                "another name"
            )

    async def apply(self, edit: _Prepared) -> WriteResult:
        if isinstance(edit, _Write):
            return await self._write(edit)
        if isinstance(edit, Delete):
            return await self._delete(edit.path)
        if isinstance(edit, _Rename):
            return await self._rename(edit)
        return self._set_base(edit)

    async def _write(self, edit: _Write) -> WriteResult:
        target = edit.target
        row = self._live(target.path)
        current = None if row is None else row.content_hash
        if current is None:
            await self._refuse_lookalike(target.path)
        if not _satisfied(edit.expected_hash, current):
            raise Conflict(_unsatisfied(target.path, edit.expected_hash, current))
        if row is not None and current == target.sha:  # identical bytes are no change
            set_committed_value(row, "content", target.content if target.inline else None)
            if edit.mode is not None:  # a mode alone changes no import: no generation
                row.mode = edit.mode
            if target.entity is not None and self.entities.live(target.path) is None:
                self.entities.write(target.path, target.entity, row.generation)  # not indexed yet
            if target.path.endswith(".py") and row.imports is None:
                row.imports = target.found.imports  # written before imports were recorded
            present = [w for w in self.workflows.get(target.path, []) if not w.is_orphaned]
            return WriteResult(row, 0, changed=False, workflows=present)
        if row is not None and target.found.syntax_error:
            await self._keep_last_good(row)
        generation = await self._next_generation()
        row = self._fill(target, generation)
        if edit.mode is not None:
            row.mode = edit.mode
        self._index(target, generation)
        workflows = self._sync_workflows(target, generation)
        return WriteResult(row, generation, changed=True, workflows=workflows)

    async def _keep_last_good(self, row: WorkspaceFile) -> None:
        """A version that does not parse replaces the last good source of the file's workflows:
        keep that source, so they can still run it once orphaned."""
        current = row.content_hash
        if not any(
            w.source_hash == current and not w.is_orphaned for w in self.workflows.get(row.path, [])
        ):
            return
        if current in self.sources:  # written by this unit: not in the database yet
            await kept.keep_contents(self.session, {current: self.sources[current]})
        elif row not in self.new:
            await self.session.flush()
            await kept.keep_source_of(self.session, row.id, current)

    def _index(self, target: _Content, generation: int) -> None:
        """The entity row of a form, agent or app file; a .py file's refs to re-resolve."""
        if target.entity is not None or self.entities.live(target.path) is not None:
            self.entities.write(target.path, target.entity, generation)
        if target.path.endswith(".py"):
            self.entities.touched_python(target.path)

    async def _delete(self, path: str) -> WriteResult:
        row = self._live(path)
        if row is None:
            raise NotFound(f"{path} does not exist")
        generation = await self._next_generation()
        self._soft_delete(row, generation)
        now = utcnow()
        for workflow in list(self.workflows.get(path, [])):
            self._gone(workflow, now)
        self.entities.delete(path, generation)
        if path.endswith(".py"):
            self.entities.touched_python(path)
        return WriteResult(row, 0, changed=True)

    async def _rename(self, edit: _Rename) -> WriteResult:
        target, old = edit.target, edit.old
        if self._live(target.path) is not None:
            raise Conflict(f"{target.path} already exists; delete it first")
        source = self._live(old)
        if source is None or source.content_hash != target.sha:
            raise Conflict(f"{old} changed during the rename; try again")
        generation = await self._next_generation()
        self._soft_delete(source, generation)
        await self._refuse_lookalike(target.path)
        moved = self._fill(target, generation)
        moved.mode = source.mode
        # Rows left at the target (orphans of a file deleted there) meet the moving ones: the
        # functions the content defines bring them back, like any write would.
        rows = self.workflows.pop(old, [])
        staying = [w for w in rows if w.is_orphaned]
        if staying:
            self.workflows[old] = staying
        moving = [w for w in rows if not w.is_orphaned]
        for workflow in moving:
            workflow.path = target.path
        self.workflows[target.path] = self.workflows.get(target.path, []) + moving
        await self.entities.rename(old, target.path)
        self._index(target, generation)
        if old.endswith(".py"):
            self.entities.touched_python(old)
        workflows = self._sync_workflows(target, generation)
        return WriteResult(moved, generation, changed=True, workflows=workflows)

    def _set_base(self, edit: SetBase) -> WriteResult:
        row = self.rows.get(edit.path)
        if row is None:
            raise NotFound(f"{edit.path} has never been in the workspace")
        row.github_sha = edit.github_sha
        return WriteResult(row, 0, changed=False)

    def _fill(self, target: _Content, generation: int) -> WorkspaceFile:
        """Write the content into its path's row; a soft-deleted row is revived, keeping the
        base SHA of its last sync, so a later sync still knows what GitHub had there."""
        if self.spellings is not None and self._live(target.path) is None:
            self.spellings.add(target.path)
        row = self.rows.get(target.path)
        if row is None:
            # Every column set here or below: the bulk INSERT fills in no column default.
            row = WorkspaceFile(
                id=new_id(),
                path=target.path,
                created_at=utcnow(),
                github_sha=None,
                mode=DEFAULT_MODE,
            )
            self.new.append(row)
            self.rows[target.path] = row
        found = target.found
        entity_type = found.entity_type
        if found.syntax_error and row.entity_type in ("workflow", "data_provider"):
            entity_type = row.entity_type  # keep its workflows runnable, so the error shows
        row.entity_type = entity_type
        row.content = target.content if target.inline else None
        row.in_object_store = not target.inline
        row.content_hash = target.sha
        row.git_sha = git_blob_sha(target.content)
        row.size = len(target.content)
        row.content_type = content_type(target.path, target.content)
        row.diagnostics = found.syntax_error
        if not target.path.endswith(".py"):
            row.imports = None
        elif not found.syntax_error or row.imports is None:
            row.imports = found.imports  # a file with a syntax error keeps what it imported
        row.is_deleted = False
        row.generation = generation
        row.updated_at = utcnow()
        row.updated_by = self.user
        self.paths[target.path] = target.sha
        self.contents[target.path] = target.content
        if target.path.endswith(".py"):
            self.sources[target.sha] = target.content
        return row

    async def insert_new(self) -> None:
        """INSERT the unit's new rows in one executemany, as they stand after its last edit: the
        ORM's unit of work costs several times more per row, and a first pull is all new rows.
        They stay outside the session (no edit of this unit reads them back from the database:
        the rows and spellings it decides on are kept in memory)."""
        if self.new:
            columns = [column.key for column in WorkspaceFile.__table__.columns]
            await self.session.execute(
                insert(WorkspaceFile),
                [{key: getattr(row, key) for key in columns} for row in self.new],
            )

    def _soft_delete(self, row: WorkspaceFile, generation: int) -> None:
        if self.spellings is not None:
            self.spellings.remove(row.path)
        row.is_deleted = True
        row.generation = generation
        row.updated_at = utcnow()
        row.updated_by = self.user
        self.paths[row.path] = None
        self.contents.pop(row.path, None)

    def _sync_workflows(self, target: _Content, generation: int) -> list[Workflow]:
        """Update every row of each function the file defines (ids survive edits; a key may
        have two rows), create rows for new functions (once renames are matched), orphan the
        rows whose function is gone. A broken file keeps its rows as they are."""
        rows = self.workflows.setdefault(target.path, [])
        if target.found.syntax_error:
            return [w for w in rows if not w.is_orphaned]
        now = utcnow()
        by_function: dict[str, list[Workflow]] = {}
        for workflow in rows:
            by_function.setdefault(workflow.function_name, []).append(workflow)
        present: list[Workflow] = []
        for definition in target.found.workflows:
            matches = by_function.pop(definition.function_name, None)
            if not matches:
                created = Workflow(
                    id=new_id(),
                    path=target.path,
                    function_name=definition.function_name,
                    is_active=True,
                    created_at=now,
                )
                self.pending.append(created)
                rows.append(created)
                matches = [created]
            for workflow in matches:
                workflow.name = str(definition.options.get("name") or definition.function_name)
                workflow.kind = definition.kind
                workflow.description = definition.description
                workflow.is_async = definition.is_async
                workflow.parameters = definition.parameters
                workflow.returns = definition.returns
                workflow.options = definition.options
                workflow.is_orphaned = False
                workflow.orphaned_generation = None
                workflow.source_hash = target.sha
                workflow.source_generation = generation
                workflow.updated_at = now
                self.vanished.pop(workflow.id, None)  # gone earlier in this unit, back now
                present.append(workflow)
        for gone in by_function.values():
            for workflow in gone:
                self._gone(workflow, now)
        return present

    def _gone(self, workflow: Workflow, now: datetime) -> None:
        """The function of ``workflow`` left its file: a row this unit created disappears
        again; any other becomes an orphan that keeps its code (and stays active)."""
        if any(workflow is new for new in self.pending):
            self.pending = [w for w in self.pending if w is not workflow]
            self.workflows[workflow.path].remove(workflow)
            return
        if workflow.is_orphaned:
            return
        if self.before is None:
            raise Inconsistent(
                f"{workflow.path}::{workflow.function_name} would be orphaned without its kept "
                "code; nothing was changed (please report this)"
            )
        workflow.is_orphaned = True
        workflow.orphaned_generation = self.before_generation
        workflow.updated_at = now
        self.vanished[workflow.id] = workflow

    async def settle_workflows(self) -> None:
        """After the last edit: a function that left a removed file and appeared, with the same
        name and parameters, in a file this unit wrote moved there (its row follows, same id);
        the other new functions get rows; the orphans' kept manifest is recorded."""
        substitutes: dict[int, Workflow] = {}
        by_move: dict[tuple[str, str], list[Workflow]] = {}
        candidates = sorted(
            (w for w in self.vanished.values() if self._live(w.path) is None),
            key=lambda w: (w.path, w.id),
        )
        for created in list(self.pending):
            match = next(
                (
                    w
                    for w in candidates
                    if w.function_name == created.function_name
                    and w.parameters == created.parameters
                ),
                None,
            )
            if match is None:
                continue
            candidates.remove(match)
            old = match.path
            self.workflows[old].remove(match)
            for key in ("path", "name", "kind", "description", "is_async", "parameters"):
                setattr(match, key, getattr(created, key))
            for key in ("options", "source_hash", "source_generation"):
                setattr(match, key, getattr(created, key))
            match.is_orphaned = False
            match.orphaned_generation = None
            rows = self.workflows[created.path]
            rows[rows.index(created)] = match
            self.pending.remove(created)
            self.vanished.pop(match.id)
            substitutes[id(created)] = match
            by_move.setdefault((old, match.path), []).append(match)
        self.moved = [Moved(old, new, moved) for (old, new), moved in sorted(by_move.items())]
        if substitutes:
            for result in self.results:
                result.workflows = [substitutes.get(id(w), w) for w in result.workflows]
        self.session.add_all(self.pending)
        if self.vanished:
            assert self.before is not None
            await kept.keep_manifest(self.session, self.before_generation, self.before)
            written = {
                w.source_hash: self.sources[w.source_hash]
                for w in self.vanished.values()
                if w.source_hash in self.sources and w.source_hash not in self.before.values()
            }
            await kept.keep_contents(self.session, written)

    def change(self) -> Change:
        """The one event this unit publishes after its commit."""
        assert self.generation is not None
        blobs = {
            sha: self.contents[path]
            for path, sha in self.paths.items()
            if sha is not None and path.endswith(".py")
        }
        requirements = (
            self.contents.get(names.REQUIREMENTS_PATH)
            if self.paths.get(names.REQUIREMENTS_PATH)
            else None
        )
        return Change(self.generation, dict(self.paths), blobs, requirements)


async def expect_unchanged(session: AsyncSession, expected: dict[str, str | None]) -> None:
    """Inside a write transaction (after :func:`lock_workspace`): Conflict unless each path's
    live content still has the git blob SHA given (None: no live file). A sync decided on those
    SHAs; an edit saved since must not be overwritten by what it decided."""
    for chunk in _chunks(expected):
        rows = await session.execute(
            select(WorkspaceFile.path, WorkspaceFile.git_sha).where(
                WorkspaceFile.path.in_(chunk), WorkspaceFile.is_deleted.is_(False)
            )
        )
        live = {path: sha for path, sha in rows}
        for path in chunk:
            if live.get(path) != expected[path]:
                raise Conflict(
                    f"{path} was changed here while the sync ran; nothing was applied: "
                    "run the sync again"
                )
