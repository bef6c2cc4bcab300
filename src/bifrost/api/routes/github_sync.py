"""`/api/github/sync`: what a sync would do (GET, read-only), and running it (POST, as a job).

The preview is computed afresh on every call (``bifrost.github.preview``): one GitHub call when
the branch has not moved, three when it has, plus a blob for each file whose remote version must
be read (orphan checks, merges, diffs). Nothing is written but the cached remote tree.

POST answers 202 with a job id at once; the job (``bifrost.github.sync``) recomputes the preview,
and its events are on ``git:<job_id>`` at `/api/ws`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from bifrost.api.auth import require_token
from bifrost.api.deps import Services, services
from bifrost.api.errors import error_responses
from bifrost.api.schemas import ReferenceInfo
from bifrost.github.plan import Conflict
from bifrost.github.preview import MergeInfo, Preview, compute_preview, file_diff
from bifrost.github.session import connected
from bifrost.sync.github import start_job

router = APIRouter(prefix="/api/github", tags=["github"])


class SyncEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    path: str
    action: Literal["add", "modify", "delete"]
    base_sha: str | None = Field(description="What GitHub had at the last sync (null: nothing)")
    local_sha: str | None = Field(description="Git blob SHA here (null: absent or deleted)")
    remote_sha: str | None = Field(description="Git blob SHA on the branch (null: absent)")


class ConflictEntry(BaseModel):
    path: str
    kind: Literal["add_add", "modify_modify", "modify_delete", "delete_modify"]
    base_sha: str | None
    local_sha: str | None
    remote_sha: str | None
    mergeable: bool = Field(description='A clean three-way merge exists: "merge" applies it')
    diff: str | None = Field(description="Unified diff local -> remote, when both are text")
    merged_diff: str | None = Field(description="Unified diff local -> merge, when mergeable")


class OrphanEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    workflow_id: str
    path: str
    function_name: str
    name: str
    used_by: list[ReferenceInfo] = Field(
        description="Forms, agents, apps and workflows (static imports) that use it"
    )


class BrokenRefsEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: Literal["form", "agent", "app"]
    id: str | None = Field(description="null: the entity arrives with this sync")
    name: str
    path: str
    refs: list[str] = Field(description='"path::function"s that will name no workflow')


class RenameEntry(BaseModel):
    """Workflows that move with their function from a file the pull deletes to one it writes:
    same ids, not orphaned."""

    model_config = ConfigDict(populate_by_name=True)

    from_path: str = Field(alias="from", description="The file the pull deletes")
    to_path: str = Field(alias="to", description="The file the functions appear in")
    workflows: list[OrphanEntry] = Field(description="The workflows that move (path: the old)")


class SyncPreview(BaseModel):
    to_pull: list[SyncEntry]
    to_push: list[SyncEntry]
    conflicts: list[ConflictEntry]
    will_orphan: list[OrphanEntry] = Field(
        description="Workflows the sync would leave without their function (confirm_orphans)"
    )
    renames: list[RenameEntry] = Field(
        description="Workflows that move with their function to another file (kept, not orphaned)"
    )
    broken_refs: list[BrokenRefsEntry] = Field(
        description="Forms, agents and apps that will name missing workflows (never blocking)"
    )
    is_empty: bool = Field(description="Nothing to pull, push or resolve")
    remote_commit: str | None = Field(description="The branch's head (null: empty repository)")
    synced_commit: str | None = Field(description="The commit of the last sync (null: never)")


@router.get("/sync", response_model=SyncPreview, responses=error_responses(404, 409, 422, 503))
async def preview_sync(svc: Services = Depends(services)) -> SyncPreview:
    async with connected(svc.settings, svc.db, svc.secrets) as (connection, client):
        preview = await compute_preview(
            client,
            svc.db,
            svc.files.objects,
            connection,
            concurrency=svc.settings.github_concurrency,
        )
    return _shown(preview, connection.synced_commit)


GIT_SHA = r"^[0-9a-f]{40}$"


class FileDiff(BaseModel):
    path: str
    diff: str | None = Field(
        description="Unified diff (incoming: local -> remote, outgoing: remote -> local); "
        "null when a side is binary"
    )


@router.get("/sync/diff", response_model=FileDiff, responses=error_responses(404, 409, 422, 503))
async def preview_diff(
    path: str = Query(min_length=1, max_length=1000),
    local_sha: str | None = Query(None, pattern=GIT_SHA, description="The entry's local_sha"),
    remote_sha: str | None = Query(None, pattern=GIT_SHA, description="The entry's remote_sha"),
    side: Literal["incoming", "outgoing"] = Query("incoming", description="to_pull or to_push"),
    svc: Services = Depends(services),
) -> FileDiff:
    """The diff of one incoming or outgoing file of the preview (conflicts carry theirs)."""
    async with connected(svc.settings, svc.db, svc.secrets) as (connection, client):
        diff = await file_diff(
            client,
            svc.db,
            svc.files.objects,
            connection,
            path,
            local_sha=local_sha,
            remote_sha=remote_sha,
            outgoing=side == "outgoing",
        )
    return FileDiff(path=path, diff=diff)


def _shown(preview: Preview, synced_commit: str | None) -> SyncPreview:
    plan = preview.plan
    return SyncPreview(
        to_pull=[SyncEntry.model_validate(change) for change in plan.to_pull],
        to_push=[SyncEntry.model_validate(change) for change in plan.to_push],
        conflicts=[_conflict(c, preview.merges[c.path]) for c in plan.conflicts],
        will_orphan=[OrphanEntry.model_validate(orphan) for orphan in preview.will_orphan],
        renames=[
            RenameEntry(
                from_path=rename.old,
                to_path=rename.new,
                workflows=[OrphanEntry.model_validate(w) for w in rename.workflows],
            )
            for rename in preview.renames
        ],
        broken_refs=[BrokenRefsEntry.model_validate(entry) for entry in preview.broken_refs],
        is_empty=plan.is_empty,
        remote_commit=preview.remote.commit_sha,
        synced_commit=synced_commit,
    )


def _conflict(conflict: Conflict, merge: MergeInfo) -> ConflictEntry:
    return ConflictEntry(
        **asdict(conflict),
        mergeable=merge.mergeable,
        diff=merge.diff,
        merged_diff=merge.merged_diff,
    )


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conflict_resolutions: dict[str, Literal["keep_local", "keep_remote", "merge"]] = Field(
        default_factory=dict,
        description='path -> how to settle its conflict ("merge" only where mergeable)',
    )
    confirm_orphans: StrictBool = Field(
        False, description="Go on even if workflows lose their function (will_orphan)"
    )


class SyncStarted(BaseModel):
    job_id: str = Field(description="GET /api/jobs/{job_id}; events on git:<job_id> at /api/ws")


@router.post(
    "/sync",
    status_code=202,
    response_model=SyncStarted,
    responses=error_responses(400, 409, 413, 422, 503),
)
async def start_sync(
    body: SyncRequest, svc: Services = Depends(services), user: str = Depends(require_token)
) -> SyncStarted:
    """Start a sync of what the preview shows now; 409 while another sync runs. The lease is
    taken here for the new job, so of two requests at once exactly one starts a sync."""
    params = {**body.model_dump(), "auto": False}
    return SyncStarted(job_id=await start_job(svc.db, svc.settings, svc.jobs, params, user=user))
