"""What a sync would do, worked out without changing anything (``GET /api/github/sync``).

The plan comes from SHAs alone: the branch's tree (``remote.read_remote``: 1 call when the ref
answers 304, 3 otherwise) against the workspace's bases and live files (one query). Blobs are
fetched only where SHAs cannot answer, each distinct blob once, ``concurrency`` at a time:

- a file the pull modifies that holds active workflows here: its remote version, to see which
  functions remain (a workflow whose function is gone would be orphaned);
- a modify/modify conflict over local text: its base and remote versions, for the three-way
  merge and the diff;
- an add/add conflict over local text: its remote version, for the diff;
- a conflict over a file holding active workflows here: its remote version, to see which
  resolution would orphan which workflow (``Preview.orphans``);
- when a deleted file's workflows would be orphaned: every python file the pull writes, to see
  whether they moved there (same function name and parameters: ``Preview.renames``).

The sync job recomputes the preview and applies exactly what it shows, so everything it needs
(the remote tree, the merged bytes, the blobs already read) is kept here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from bifrost.github import merge
from bifrost.github.client import GitHubClient
from bifrost.github.plan import Action, Change, Conflict, ConflictKind, Plan, Resolution, plan
from bifrost.github.remote import RemoteTree, fetch_blobs, read_remote
from bifrost.settings import Settings
from bifrost.store import entities, github_state, references
from bifrost.store.db import Database
from bifrost.store.github import Connection
from bifrost.store.github_state import WorkspaceSide
from bifrost.store.models import Workflow
from bifrost.store.objects import ObjectStore
from bifrost.store.references import Reference
from bifrost.workspace.entities import Classification, UndecodableSource, classify
from bifrost.workspace.entity_schemas import kind_of, parse_entity

DEFAULT_CONCURRENCY: int = Settings.model_fields["github_concurrency"].default
DIFFED = (ConflictKind.MODIFY_MODIFY, ConflictKind.ADD_ADD)  # both sides have the file


@dataclass(frozen=True)
class Orphan:
    """An active workflow that the sync would leave without its function."""

    workflow_id: str
    path: str
    function_name: str
    name: str
    used_by: tuple[Reference, ...] = field(default=(), compare=False)  # who depends on it


@dataclass(frozen=True)
class BrokenRefs:
    """A form, agent or app that, once the sync is done, names workflows that do not exist
    (``id`` None: the entity arrives with the pull). Reported, never blocking."""

    kind: str
    id: str | None
    name: str
    path: str
    refs: tuple[str, ...]


@dataclass(frozen=True)
class Rename:
    """Workflows that the pull moves from a file it deletes (``old``) to one it writes
    (``new``): same function name and parameters, so they keep their ids and are not orphaned."""

    old: str
    new: str
    workflows: list[Orphan]


@dataclass(frozen=True)
class MergeInfo:
    """One conflict's text view: ``diff`` is local -> remote (None unless both sides are text);
    ``merged`` the clean three-way merge of a modify/modify conflict (None if the edits overlap),
    and ``merged_diff`` local -> merged."""

    mergeable: bool
    merged: bytes | None = None
    diff: str | None = None
    merged_diff: str | None = None


@dataclass(frozen=True)
class Preview:
    """``will_orphan``: what the pulls orphan whatever the resolutions; ``conflict_orphans``:
    path -> resolution -> what resolving that conflict so would orphan too (see ``orphans``).
    ``merges`` has an entry for every conflict. ``blobs`` (git sha -> bytes, base and remote
    versions) are what was read to work it out; the sync's pull does not fetch them again."""

    plan: Plan
    remote: RemoteTree
    workspace: WorkspaceSide
    will_orphan: list[Orphan]
    conflict_orphans: dict[str, dict[Resolution, list[Orphan]]]
    merges: dict[str, MergeInfo]
    blobs: dict[str, bytes]
    renames: list[Rename] = field(default_factory=list)
    broken_refs: list[BrokenRefs] = field(default_factory=list)

    def orphans(self, resolutions: Mapping[str, Resolution]) -> list[Orphan]:
        """Every workflow the sync orphans once the conflicts are resolved as ``resolutions``."""
        chosen = [
            orphan
            for path, resolution in sorted(resolutions.items())
            for orphan in self.conflict_orphans.get(path, {}).get(resolution, [])
        ]
        return [*self.will_orphan, *chosen]


async def compute_preview(
    client: GitHubClient,
    db: Database,
    objects: ObjectStore,
    connection: Connection,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> Preview:
    """The preview of syncing the workspace with ``connection``'s branch; writes nothing but the
    cached remote snapshot."""
    remote = await read_remote(
        client, db, connection.repository, connection.branch, concurrency=concurrency
    )
    workspace = await github_state.workspace_side(db)
    planned = plan(workspace.bases, workspace.local, remote.blobs)

    pulled = {c.path: c for c in planned.to_pull if c.action is not Action.ADD}
    replaced = {c.path: c for c in planned.conflicts if c.local_sha}  # by keep_remote or merge
    held: dict[str, list[Workflow]] = defaultdict(list)
    for workflow in await github_state.active_workflows(db, {*pulled, *replaced}):
        if not workflow.is_orphaned:  # an orphan already is one; a pull changes nothing of it
            held[workflow.path].append(workflow)

    diffed = {c.path: c for c in planned.conflicts if c.kind in DIFFED}
    local_contents = await github_state.contents(
        db, objects, {path: c.local_sha for path, c in diffed.items() if c.local_sha}
    )
    wanted = [(pulled.get(path) or replaced[path]).remote_sha for path in held]
    for path, conflict in diffed.items():
        if merge.is_text(local_contents[path]):
            wanted += [conflict.remote_sha, conflict.base_sha]  # add/add has no base
    blobs = await fetch_blobs(
        client, connection.repository, [sha for sha in wanted if sha], concurrency=concurrency
    )

    def remote_version(change: Change | Conflict) -> bytes | None:
        return None if change.remote_sha is None else blobs[change.remote_sha]

    merges = {c.path: _merge_info(c, local_contents.get(c.path), blobs) for c in planned.conflicts}
    will_orphan = [
        orphan
        for path, workflows in held.items()
        if path in pulled
        for orphan in orphans_of(workflows, path, remote_version(pulled[path]))
    ]
    renames: list[Rename] = []
    if any(pulled[o.path].remote_sha is None for o in will_orphan):
        written = [c for c in planned.to_pull if c.remote_sha and c.path.endswith(".py")]
        more = [c.remote_sha for c in written if c.remote_sha not in blobs]
        blobs.update(
            await fetch_blobs(
                client, connection.repository, [s for s in more if s], concurrency=concurrency
            )
        )
        rows = await github_state.workflow_functions(db, [c.path for c in written])
        by_id = {w.id: w for workflows in held.values() for w in workflows}
        renames = find_renames(
            [(o, by_id[o.workflow_id]) for o in will_orphan if pulled[o.path].remote_sha is None],
            [(c.path, blobs[c.remote_sha]) for c in written if c.remote_sha],
            rows,
        )
        moved = {w.workflow_id for rename in renames for w in rename.workflows}
        will_orphan = [o for o in will_orphan if o.workflow_id not in moved]
    conflict_orphans = {
        path: _orphans_if_resolved(
            workflows, replaced[path], remote_version(replaced[path]), merges[path]
        )
        for path, workflows in held.items()
        if path in replaced
    }
    users = await _users(db, [w for workflows in held.values() for w in workflows])
    will_orphan = [replace(o, used_by=users.get(o.workflow_id, ())) for o in will_orphan]
    conflict_orphans = {
        path: {
            resolution: [replace(o, used_by=users.get(o.workflow_id, ())) for o in orphans]
            for resolution, orphans in outcomes.items()
        }
        for path, outcomes in conflict_orphans.items()
    }
    broken = await _broken_after(client, db, connection, planned, blobs, concurrency=concurrency)
    return Preview(
        plan=planned,
        remote=remote,
        workspace=workspace,
        will_orphan=will_orphan,
        conflict_orphans=conflict_orphans,
        merges=merges,
        blobs=blobs,
        renames=renames,
        broken_refs=broken,
    )


def find_renames(
    leaving: list[tuple[Orphan, Workflow]],
    written: list[tuple[str, bytes]],
    rows: Mapping[str, set[str]],
) -> list[Rename]:
    """Which workflows of deleted files reappear in written ones, matched as the store's unit
    of work matches them (``Files.apply``): each function new to a written file, in the order
    of the writes and of the file, takes the first leaving workflow (by path, then id) with the
    same function name and parameters."""
    candidates = sorted(leaving, key=lambda pair: (pair[1].path, pair[1].id))
    moves: dict[tuple[str, str], list[Orphan]] = {}
    for path, content in written:
        try:
            found = classify(path, content)
        except UndecodableSource:
            continue
        if found.syntax_error:
            continue
        for definition in found.workflows:
            if definition.function_name in rows.get(path, set()):
                continue  # a row is there already: the write updates it
            match = next(
                (
                    pair
                    for pair in candidates
                    if pair[1].function_name == definition.function_name
                    and pair[1].parameters == definition.parameters
                ),
                None,
            )
            if match is not None:
                candidates.remove(match)
                moves.setdefault((match[1].path, path), []).append(match[0])
    return [Rename(old, new, workflows) for (old, new), workflows in sorted(moves.items())]


async def _users(db: Database, workflows: list[Workflow]) -> dict[str, tuple[Reference, ...]]:
    if not workflows:
        return {}
    async with db.read() as session:
        found = await references.used_by(session, workflows)
    return {workflow_id: tuple(refs) for workflow_id, refs in found.items()}


async def _broken_after(
    client: GitHubClient,
    db: Database,
    connection: Connection,
    planned: Plan,
    blobs: dict[str, bytes],
    *,
    concurrency: int,
) -> list[BrokenRefs]:
    """The entities whose references will not resolve once the pulls are applied: those the
    pull brings (their remote version, fetched here: entity files are few and small), and those
    broken now that it does not fix. A workflow the pull orphans keeps its row, so a reference
    that holds now still holds after (the preview lists it under ``will_orphan``, with its
    users); only a pulled ``.py`` file can make a broken reference hold, so only those that
    such a reference names are read."""
    pulled = {c.path: c for c in planned.to_pull}
    arriving = {
        path: c.remote_sha
        for path, c in pulled.items()
        if c.remote_sha is not None and kind_of(path) is not None
    }
    blobs.update(
        await fetch_blobs(
            client,
            connection.repository,
            [sha for sha in set(arriving.values()) if sha not in blobs],
            concurrency=concurrency,
        )
    )
    candidates: dict[str, tuple[str, str | None, str, list[str]]] = {}  # path -> kind, id, ...
    for row in await entities.broken(db):
        if row.path not in pulled:
            candidates[row.path] = (row.kind, row.id, row.name, list(row.broken_refs))
    ids: dict[str, str] = {}
    async with db.read() as session:
        for path in arriving:
            row = await entities.live_at(session, path)
            if row is not None:
                ids[path] = row.id
        parsed = {
            path: parse_entity(kind_of(path) or "", path, blobs[sha])
            for path, sha in arriving.items()
        }
        targets = {(r.path, r.function_name) for p in parsed.values() for r in p.refs}
        holds = await entities.resolve_targets(session, targets)
    for path, entity in parsed.items():
        unresolved = [r.target for r in entity.refs if holds[(r.path, r.function_name)] is None]
        if unresolved:
            candidates[path] = (entity.kind, ids.get(path), entity.name, sorted(set(unresolved)))
    needed = {
        target.rpartition("::")[0]
        for _, _, _, refs in candidates.values()
        for target in refs
        if target.rpartition("::")[0] in pulled
    }
    wanted = [pulled[p].remote_sha for p in needed if pulled[p].remote_sha is not None]
    blobs.update(
        await fetch_blobs(
            client,
            connection.repository,
            [sha for sha in set(wanted) if sha and sha not in blobs],
            concurrency=concurrency,
        )
    )
    defined: dict[str, set[str]] = {}
    for path in needed:
        sha = pulled[path].remote_sha
        defined[path] = set() if sha is None else _functions(path, blobs[sha])
    broken: list[BrokenRefs] = []
    for path, (kind, entity_id, name, refs) in sorted(candidates.items()):
        still = tuple(
            t for t in refs if t.rpartition("::")[2] not in defined.get(t.rpartition("::")[0], ())
        )
        if still:
            broken.append(BrokenRefs(kind, entity_id, name, path, still))
    return broken


def _functions(path: str, content: bytes) -> set[str]:
    try:
        return {w.function_name for w in classify(path, content).workflows}
    except UndecodableSource:
        return set()


def orphans_of(workflows: Iterable[Workflow], path: str, content: bytes | None) -> list[Orphan]:
    """The ``workflows`` of ``path`` that ``content`` (None: the file is deleted) would no longer
    define. A syntax error hides no workflow (the rows are kept until it is fixed); bytes that
    are not Python source define none."""
    found = Classification("deleted")
    if content is not None:
        try:
            found = classify(path, content)
        except UndecodableSource:
            found = Classification("binary")
    if found.syntax_error:
        return []
    remaining = {w.function_name for w in found.workflows}
    return [
        Orphan(w.id, w.path, w.function_name, w.name)
        for w in workflows
        if w.function_name not in remaining
    ]


def _orphans_if_resolved(
    workflows: list[Workflow], conflict: Conflict, remote: bytes | None, info: MergeInfo
) -> dict[Resolution, list[Orphan]]:
    outcomes = {Resolution.KEEP_REMOTE: orphans_of(workflows, conflict.path, remote)}
    if info.merged is not None:
        outcomes[Resolution.MERGE] = orphans_of(workflows, conflict.path, info.merged)
    return outcomes


def _merge_info(conflict: Conflict, local: bytes | None, blobs: dict[str, bytes]) -> MergeInfo:
    remote = blobs.get(conflict.remote_sha or "")
    if local is None or remote is None:
        return MergeInfo(mergeable=False)
    diff = merge.unified_diff(conflict.path, local, remote, old_side="local", new_side="remote")
    base = blobs.get(conflict.base_sha or "")
    merged = merge.merge(base, local, remote) if base is not None else None
    if merged is None:
        return MergeInfo(mergeable=False, diff=diff)
    merged_diff = merge.unified_diff(
        conflict.path, local, merged, old_side="local", new_side="merged"
    )
    return MergeInfo(mergeable=True, merged=merged, diff=diff, merged_diff=merged_diff)


async def file_diff(
    client: GitHubClient,
    db: Database,
    objects: ObjectStore,
    connection: Connection,
    path: str,
    *,
    local_sha: str | None,
    remote_sha: str | None,
    outgoing: bool = False,
) -> str | None:
    """One preview entry's unified diff (an absent side is empty), or None when a side is
    binary: local -> remote for what the pull brings, remote -> local for what the push sends.
    The page asks for it when a user opens an incoming or outgoing file, so a preview of
    thousands of files fetches no blob it would not show. Conflict if the local file changed
    since the preview."""
    local = b""
    if local_sha is not None:
        local = (await github_state.contents(db, objects, {path: local_sha}))[path]
    remote = b"" if remote_sha is None else await client.blob(connection.repository, remote_sha)
    if outgoing:
        return merge.unified_diff(path, remote, local, old_side="remote", new_side="local")
    return merge.unified_diff(path, local, remote, old_side="local", new_side="remote")
