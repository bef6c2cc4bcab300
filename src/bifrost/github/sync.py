"""The sync job (``github.sync``): make the workspace and the branch hold the same bytes.

Under the sync lease (one sync at a time across every process, renewed while it runs):
1. finish what a crashed sync left: a journalled push that GitHub took is recorded, one it did
   not take is dropped;
2. recompute the preview and refuse, changing nothing, when a conflict has no resolution, a
   "merge" has no clean merge, or workflows would be orphaned without ``confirm_orphans``;
3. pull, in ONE database transaction: the branch's files (and deletions), the resolutions taken
   here (keep_remote's content, merge's merged bytes), every new base SHA, the synced commit and
   the orphan marks. A conflict resolved here gets the branch's SHA as its base, so what remains
   is an ordinary push, and a push that fails later leaves a state the next sync pushes again;
4. push every local change (keep_local and merges included) as one commit, journalled before the
   branch moves, then record its bases and the new head in one transaction with the journal's
   removal. If the branch moved meanwhile and the push was rebuilt on it, what the newcomer
   brought is pulled too, when that needs no decision.

Every transaction checks the lease's fence first, and the lease is renewed before every write to
GitHub: a sync that lost its lease changes nothing more on either side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bifrost.errors import Conflict, InvalidInput, Unavailable
from bifrost.github.auto import safe_part
from bifrost.github.client import GitHubClient
from bifrost.github.models import FILE_MODE, Head
from bifrost.github.plan import Resolution
from bifrost.github.preview import Orphan, Preview, compute_preview
from bifrost.github.pull import fetch_contents
from bifrost.github.push import Outgoing, Push
from bifrost.github.remote import read_remote
from bifrost.github.session import connected
from bifrost.jobs import progress as events
from bifrost.jobs.runner import JobRun
from bifrost.names import GITHUB_SYNC_LEASE
from bifrost.secrets import SecretBox
from bifrost.settings import Settings
from bifrost.store import github as connections
from bifrost.store import github_journal as journal
from bifrost.store import github_state, leases
from bifrost.store.db import Database
from bifrost.store.files import Delete, Edit, Files, SetBase, Write, expect_unchanged
from bifrost.store.github import Connection
from bifrost.store.objects import ObjectStore

log = logging.getLogger(__name__)

JOURNAL_DEPTH = 50  # commits walked back from the head to find a journalled push
RUNNING = "a sync is running (job {holder}); wait for it to finish, then preview again"


def running_message(holder: str) -> str:
    return RUNNING.format(holder=holder)


def resolutions_of(raw: Mapping[str, Any]) -> dict[str, Resolution]:
    try:
        return {str(path): Resolution(value) for path, value in raw.items()}
    except ValueError as exc:
        choices = ", ".join(r.value for r in Resolution)
        raise InvalidInput(f"a conflict resolution must be one of {choices}") from exc


class Guard:
    """The held sync lease: renewed in the background; ``check`` in every transaction and
    ``confirm`` before every GitHub write refuse to go on once it was lost."""

    def __init__(self, db: Database, owner: str, fence: int, ttl_s: float) -> None:
        self.db = db
        self.owner = owner
        self.fence = fence
        self.ttl_s = ttl_s
        self.lost: leases.LeaseLost | None = None

    async def check(self, session: AsyncSession) -> None:
        if self.lost is not None:
            raise self.lost
        await leases.check(session, GITHUB_SYNC_LEASE, self.owner, self.fence)

    async def confirm(self) -> None:
        if self.lost is not None:
            raise self.lost
        try:
            await leases.renew(self.db, GITHUB_SYNC_LEASE, self.owner, self.fence, self.ttl_s)
        except leases.LeaseLost as exc:
            self.lost = exc
            raise

    async def keep(self) -> None:
        while self.lost is None:
            await asyncio.sleep(self.ttl_s / 3)
            try:
                await self.confirm()
            except leases.LeaseLost:
                log.warning("the sync lease was lost; the sync stops")
            except Unavailable as exc:  # the next renewal may work; the fence protects writes
                log.warning("the sync lease was not renewed: %s", exc)


@asynccontextmanager
async def held_lease(db: Database, owner: str, ttl_s: float) -> AsyncIterator[Guard]:
    """The sync lease for ``owner`` (the job id; the API took it already when it started the
    job), renewed while the block runs and released after."""
    try:
        fence = await leases.acquire(db, GITHUB_SYNC_LEASE, owner, ttl_s)
    except leases.LeaseHeld as exc:
        raise Conflict(running_message(exc.holder)) from exc
    guard = Guard(db, owner, fence, ttl_s)
    keeper = asyncio.ensure_future(guard.keep())
    try:
        yield guard
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        await leases.release(db, GITHUB_SYNC_LEASE, owner, fence)


@dataclass
class Outcome:
    """The job's result (``GET /api/jobs/{id}``)."""

    pulled: int = 0
    pushed: int = 0
    merged: int = 0
    deleted_local: int = 0
    deleted_remote: int = 0
    commit: str | None = None
    orphaned: list[dict[str, str]] | None = None
    renamed: list[dict[str, Any]] | None = None  # workflows moved with their file: same ids
    held: list[dict[str, Any]] | None = None  # automatic syncs: the paths left for a decision


class GitHubSync:
    def __init__(
        self, settings: Settings, db: Database, objects: ObjectStore, files: Files, box: SecretBox
    ) -> None:
        self.settings = settings
        self.db = db
        self.objects = objects
        self.files = files
        self.box = box

    async def __call__(self, job: JobRun) -> dict[str, Any]:
        """``auto``: an automatic sync (``bifrost.github.auto``), which applies only the safe
        part of the preview and pushes only with ``auto_push``."""
        resolutions = resolutions_of(job.params.get("conflict_resolutions") or {})
        confirm_orphans = bool(job.params.get("confirm_orphans"))
        async with (
            held_lease(self.db, job.id, self.settings.github_sync_lease_s) as guard,
            connected(self.settings, self.db, self.box) as (connection, client),
        ):
            run = _Run(self, job, guard, connection, client)
            if job.params.get("auto"):
                outcome = await run.auto_sync(push=bool(job.params.get("auto_push")))
            else:
                outcome = await run.sync(resolutions, confirm_orphans)
        return asdict(outcome)


class _Run:
    """One sync job's work, with its lease, connection and client."""

    def __init__(
        self,
        sync: GitHubSync,
        job: JobRun,
        guard: Guard,
        connection: Connection,
        client: GitHubClient,
    ) -> None:
        self.s = sync
        self.job = job
        self.guard = guard
        self.connection = connection
        self.client = client
        self.concurrency = sync.settings.github_concurrency

    async def say(self, line: str) -> None:
        await self.job.report(events.output(line))

    async def step(self, phase: str, current: int, total: int, path: str) -> None:
        await self.job.report(events.progress(phase, current, total, path=path))

    async def preview(self) -> Preview:
        return await compute_preview(
            self.client, self.s.db, self.s.objects, self.connection, concurrency=self.concurrency
        )

    async def sync(self, resolutions: dict[str, Resolution], confirm_orphans: bool) -> Outcome:
        await self.finish_journals()
        preview = await self.preview()
        orphans = refuse_unresolved(preview, resolutions, confirm_orphans)
        outcome = Outcome(commit=preview.remote.commit_sha, orphaned=[asdict(o) for o in orphans])
        plan = preview.plan
        await self.say(
            f"{len(plan.to_pull)} to pull, {len(plan.to_push)} to push, "
            f"{len(plan.conflicts)} conflicts resolved"
        )
        await self.pull(preview, resolutions, orphans, outcome)
        retried = await self.push(preview, resolutions, outcome)
        if retried:
            await self.follow_up(confirm_orphans, outcome)
        await self.say(
            f"done: {outcome.pulled} pulled, {outcome.deleted_local} deleted here, "
            f"{outcome.pushed} pushed, {outcome.deleted_remote} deleted on GitHub, "
            f"{outcome.merged} merged"
        )
        return outcome

    async def auto_sync(self, *, push: bool) -> Outcome:
        """The safe part only; the held paths are in the outcome. The synced commit is recorded
        only when nothing was held (the workspace is then fully synced with it)."""
        await self.finish_journals()
        preview, held = safe_part(await self.preview(), push=push)
        outcome = Outcome(commit=preview.remote.commit_sha, orphaned=[], held=held)
        plan = preview.plan
        await self.say(
            f"automatic: {len(plan.to_pull)} to pull, {len(plan.to_push)} to push, "
            f"{len(held)} held for a decision"
        )
        await self.pull(preview, {}, [], outcome, record=not held)
        if push and await self.push(preview, {}, outcome):
            await self.follow_up(False, outcome)
        await self.say(
            f"done: {outcome.pulled} pulled, {outcome.deleted_local} deleted here, "
            f"{outcome.pushed} pushed, {outcome.deleted_remote} deleted on GitHub, "
            f"{len(held)} held"
        )
        return outcome

    # ---- 1. a crashed sync's push ---------------------------------------------------------

    async def finish_journals(self) -> None:
        for intent in await journal.pending(self.s.db):
            if await self.landed(intent.commit_sha):
                await self.record_push(intent)
                await self.say(f"recorded the push {intent.commit_sha[:7]} of an earlier sync")
            else:
                async with self.s.db.write() as session:
                    await self.guard.check(session)
                    await journal.remove(session, intent.id)
                await self.say(f"an earlier sync's push {intent.commit_sha[:7]} never landed")

    async def landed(self, commit_sha: str) -> bool:
        """Whether the branch holds ``commit_sha`` (its head, or among its first parents)."""
        head = await self.client.head(self.connection.repository, self.connection.branch)
        sha = head.sha if isinstance(head, Head) else None
        for _ in range(JOURNAL_DEPTH):
            if sha is None:
                return False
            if sha == commit_sha:
                return True
            parents = (await self.client.commit(self.connection.repository, sha)).parents
            sha = parents[0] if parents else None
        return False

    async def record_push(self, intent: journal.Intent) -> None:
        """The pushed bases, the synced commit and the journal's removal: one transaction."""

        async def record(session: AsyncSession) -> None:
            await self.guard.check(session)
            await connections.record_synced(session, intent.commit_sha)
            await journal.remove(session, intent.id)

        edits = [SetBase(path, sha) for path, sha in sorted(intent.entries.items())]
        await self.s.files.apply(edits, user=self.job.created_by, precondition=record)

    # ---- 3. the pull ----------------------------------------------------------------------

    async def pull(
        self,
        preview: Preview,
        resolutions: Mapping[str, Resolution],
        orphans: list[Orphan],
        outcome: Outcome,
        *,
        record: bool = True,
    ) -> None:
        """``record``: the branch's head becomes the synced commit (not when paths were held)."""
        plan, remote = preview.plan, preview.remote
        wanted = {c.path: c.remote_sha for c in plan.to_pull if c.remote_sha is not None}
        for conflict in plan.conflicts:
            if resolutions[conflict.path] is Resolution.KEEP_REMOTE and conflict.remote_sha:
                wanted[conflict.path] = conflict.remote_sha
        contents: dict[str, bytes] = {}
        if wanted:
            assert remote.commit_sha is not None
            contents = await fetch_contents(
                self.client,
                self.connection.repository,
                remote.commit_sha,
                wanted,
                concurrency=self.concurrency,
                progress=lambda done, total, path: self.step("pulling", done, total, path),
                known=preview.blobs,
            )

        edits: list[Edit] = []
        expected: dict[str, str | None] = {}

        def take(path: str, sha: str | None) -> None:
            if sha is None:
                edits.append(Delete(path))
                outcome.deleted_local += 1
            else:
                edits.append(Write(path, contents[path], mode=remote.entries[path][0]))
                outcome.pulled += 1
            edits.append(SetBase(path, sha))

        for change in plan.to_pull:
            expected[change.path] = change.local_sha
            take(change.path, change.remote_sha)
        for done, conflict in enumerate(plan.conflicts, start=1):
            path = conflict.path
            await self.step("resolving", done, len(plan.conflicts), path)
            expected[path] = conflict.local_sha
            chosen = resolutions[path]
            if chosen is Resolution.KEEP_REMOTE:
                take(path, conflict.remote_sha)
                continue
            if chosen is Resolution.MERGE:
                merged = preview.merges[path].merged
                assert merged is not None
                mode = preview.workspace.files[path].mode
                edits.append(Write(path, merged, mode=mode))
                outcome.merged += 1
            edits.append(SetBase(path, conflict.remote_sha))  # the push then carries ours
        edits += [SetBase(settle.path, settle.sha) for settle in plan.settle]

        async def checked(session: AsyncSession) -> None:
            await self.guard.check(session)
            await expect_unchanged(session, expected)
            if record and remote.commit_sha is not None:
                await connections.record_synced(session, remote.commit_sha)

        if edits or (record and remote.commit_sha != self.connection.synced_commit):
            # The unit orphans (and moves) workflows itself, keeping their code; it refuses to
            # orphan any active one the user did not confirm.
            applied = await self.s.files.apply(
                edits,
                user=self.job.created_by,
                precondition=checked,
                allow_orphans={o.workflow_id for o in orphans},
            )
            outcome.renamed = (outcome.renamed or []) + [
                {"from": m.old, "to": m.new, "workflows": [w.id for w in m.workflows]}
                for m in applied.moved
            ]

    # ---- 4. the push ----------------------------------------------------------------------

    async def push(
        self, preview: Preview, resolutions: Mapping[str, Resolution], outcome: Outcome
    ) -> bool:
        """Push what the preview's plan and the resolutions leave; True if the branch moved
        meanwhile (the push was rebuilt on the new head)."""
        plan, workspace = preview.plan, preview.workspace
        ours = {c.path: c.local_sha for c in plan.to_push}
        merged: dict[str, bytes] = {}
        for conflict in plan.conflicts:
            chosen = resolutions[conflict.path]
            if chosen is Resolution.KEEP_LOCAL:
                ours[conflict.path] = conflict.local_sha
            elif chosen is Resolution.MERGE:
                content = preview.merges[conflict.path].merged
                assert content is not None
                merged[conflict.path] = content
        if not ours and not merged:
            return False
        live = {path: sha for path, sha in ours.items() if sha is not None}
        contents = await github_state.contents(self.s.db, self.s.objects, live)
        contents.update(merged)
        outgoing = [
            Outgoing(path, workspace.files[path].mode, contents[path])
            if path in contents
            else Outgoing(path, FILE_MODE, None)  # a deletion takes the branch's mode
            for path in sorted({*ours, *merged})
        ]
        intent_id = self.job.id

        async def before_ref(commit: str, parent: str | None, entries: dict[str, str | None]):
            await self.guard.confirm()
            async with self.s.db.write() as session:
                await self.guard.check(session)
                await journal.save(session, journal.Intent(intent_id, commit, parent, entries))

        async def reread():
            return await read_remote(
                self.client,
                self.s.db,
                self.connection.repository,
                self.connection.branch,
                concurrency=self.concurrency,
            )

        push = Push(
            self.client,
            self.connection.repository,
            self.connection.branch,
            message=commit_message(outgoing),
            before_ref=before_ref,
            reread=reread,
            progress=lambda done, total, path: self.step("pushing", done, total, path),
        )
        if preview.remote.commit_sha is None:
            await self.guard.confirm()  # the first commit moves the branch at once
        try:
            pushed = await push.run(preview.remote, outgoing)
        except Conflict:
            await journal.drop(self.s.db, intent_id)  # nothing of it was published
            raise
        await self.record_push(journal.Intent(intent_id, pushed.commit_sha, None, pushed.entries))
        outcome.commit = pushed.commit_sha
        outcome.pushed = sum(1 for item in outgoing if item.content is not None)
        outcome.deleted_remote = len(outgoing) - outcome.pushed
        return pushed.retried > 0

    async def follow_up(self, confirm_orphans: bool, outcome: Outcome) -> None:
        """After a push rebuilt on a moved branch: pull what the newcomer brought, when that
        needs no decision; otherwise the next preview shows it."""
        preview = await self.preview()
        plan = preview.plan
        if plan.to_push or plan.conflicts or (preview.will_orphan and not confirm_orphans):
            await self.say("the branch moved during the sync: preview again for what it brought")
            return
        await self.pull(preview, {}, preview.will_orphan, outcome)
        outcome.commit = preview.remote.commit_sha


def refuse_unresolved(
    preview: Preview, resolutions: Mapping[str, Resolution], confirm_orphans: bool
) -> list[Orphan]:
    """What the sync would orphan; refuses (nothing changed yet) what needs the user first."""
    plan = preview.plan
    unresolved = [c for c in plan.conflicts if c.path not in resolutions]
    if unresolved:
        listed = ", ".join(f"{c.path} ({c.kind.value})" for c in unresolved)
        raise Conflict(
            f"conflicts without a resolution: {listed}; nothing was changed: choose keep_local, "
            "keep_remote or (when mergeable) merge for each"
        )
    unmergeable = [
        c.path
        for c in plan.conflicts
        if resolutions[c.path] is Resolution.MERGE and not preview.merges[c.path].mergeable
    ]
    if unmergeable:
        raise InvalidInput(
            f"{', '.join(unmergeable)} cannot be merged (the edits overlap, or the file is not "
            "text); nothing was changed: choose keep_local or keep_remote"
        )
    chosen = {c.path: resolutions[c.path] for c in plan.conflicts}
    orphans = preview.orphans(chosen)
    if orphans and not confirm_orphans:
        listed = ", ".join(f"{o.name} ({o.path}::{o.function_name})" for o in orphans)
        raise Conflict(
            f"the sync would orphan {listed}; nothing was changed: confirm_orphans to go on"
        )
    return orphans


def commit_message(outgoing: list[Outgoing]) -> str:
    if len(outgoing) == 1:
        item = outgoing[0]
        return f"{'Delete' if item.content is None else 'Update'} {item.path} (Bifrost sync)"
    return f"Sync {len(outgoing)} files from Bifrost"
