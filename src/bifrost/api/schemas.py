"""Response and request bodies: every endpoint answers with one of these (the OpenAPI contract)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    model_validator,
)

from bifrost.names import JobStatus


def _with_offset(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; every one Bifrost stores is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


Item = TypeVar("Item", bound=BaseModel)

Timestamp = Annotated[datetime, AfterValidator(_with_offset)]
"""A moment that always carries its offset in JSON (RFC 3339 ``date-time``)."""


class ErrorBody(BaseModel):
    """The one shape of every error response."""

    detail: str = Field(description="What went wrong and what to change")


class FileInfo(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    path: str
    entity_type: str
    size: int
    content_type: str
    content_hash: str
    git_sha: str
    github_sha: str | None
    git_status: str
    diagnostics: str | None
    generation: int
    updated_at: Timestamp
    updated_by: str | None


class WorkflowInfo(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    path: str
    function_name: str
    kind: str
    description: str | None
    is_async: bool
    parameters: list[dict[str, Any]]
    returns: str | None = Field(None, description="The return annotation, as written")
    options: dict[str, Any]
    is_active: bool = Field(description="False only after an explicit deactivate: it cannot run")
    is_orphaned: bool = Field(
        description="Its function left its file (deleted, renamed away, or the function removed); "
        "it still runs its kept code"
    )
    source_hash: str | None = Field(
        description="sha256 of its module's last good source (the file parsed and held it)"
    )
    source_generation: int | None = Field(description="The generation that source was written at")
    orphaned_generation: int | None = Field(
        description="When orphaned: the generation its imports resolve against (the state just "
        "before the change that orphaned it)"
    )


class Replacement(BaseModel):
    workflow: WorkflowInfo
    rank: str = Field(description="exact (the same signature) or compatible (every call binds)")
    reason: str


class ReplacementList(BaseModel):
    workflow: WorkflowInfo = Field(description="The workflow to replace")
    items: list[Replacement] = Field(description="Best first: exact, then the same name")


class ReplaceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="The file of the function that takes the orphan's place")
    function: str = Field(description="Its function name")


class ReferenceInfo(BaseModel):
    """A user of a workflow: a form, agent or app that names it, or a workflow whose module
    imports its module."""

    model_config = ConfigDict(from_attributes=True)

    kind: Literal["form", "agent", "app", "workflow"]
    id: str
    name: str
    path: str


class WorkflowDetail(WorkflowInfo):
    used_by: list[ReferenceInfo] = Field(
        description="Forms, agents, apps and workflows (static imports) that use this workflow"
    )


class EntityRefInfo(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    role: str = Field(description="workflow, data_provider, tool or page")
    target: str = Field(description='"path::function" as the file says')
    workflow_id: str | None = Field(description="The workflow it names (null: none, broken)")


class EntityInfo(BaseModel):
    """A form, agent or app: the index of its file (``definition`` is null when ``invalid``)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: Literal["form", "agent", "app"]
    path: str
    name: str
    definition: dict[str, Any] | None
    invalid: str | None = Field(description="Why the file does not fit the schema (null: fits)")
    broken_refs: list[str] = Field(description='"path::function"s that name no workflow')
    generation: int
    updated_at: Timestamp
    updated_by: str | None


class EntityDetail(EntityInfo):
    refs: list[EntityRefInfo]


class SubmitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: dict[str, Any] = Field(default_factory=dict, description="field name -> answer")
    wait: StrictBool = Field(True, description="false: answer 202 at once")


class WriteResponse(BaseModel):
    file: FileInfo
    generation: int
    changed: bool
    workflows: list[WorkflowInfo]


class DeleteResponse(BaseModel):
    path: str
    generation: int


class RenameRequest(BaseModel):
    old_path: str = Field(min_length=1)
    new_path: str = Field(min_length=1)


class ExecuteRequest(BaseModel):
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="By name; JSON without NaN or Infinity, bounded depth"
    )
    wait: StrictBool = Field(True, description="false: answer 202 at once")


class ExecutionInfo(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    workflow_id: str | None
    path: str
    function_name: str
    status: str
    parameters: dict[str, Any]
    result: Any = None
    logs: str = ""
    error: dict[str, Any] | None = None
    generation: int
    ran_generation: int | None = None
    worker: str | None = None
    created_at: Timestamp
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    duration_ms: float | None = None


class CursorPage(BaseModel, Generic[Item]):
    """One page of a listing; the next is the same request with ``cursor=next_cursor``."""

    model_config = ConfigDict(from_attributes=True)

    items: list[Item]
    next_cursor: str | None = Field(description="Opaque; null on the last page")


class FilePage(CursorPage[FileInfo]):
    """Files by path."""


class WorkflowPage(CursorPage[WorkflowInfo]):
    """Workflows by path, then function name (then id)."""


class OrphanPage(CursorPage[WorkflowDetail]):
    """Orphaned workflows by path, each with what uses it."""


class EntityPage(CursorPage[EntityInfo]):
    """Forms (agents, apps) by path."""


class ExecutionPage(CursorPage[ExecutionInfo]):
    """Executions, newest first."""


class ComponentHealth(BaseModel):
    kind: str = Field(description="sqlite/postgresql, embedded/redis")
    ok: bool
    generation: int | None = None
    error: str | None = Field(None, description="The failure's type")
    message: str | None = Field(None, description="The failure's text (with a token only)")


class WorkerPackages(BaseModel):
    requirements: int = Field(description="How many requirements the worker applied")
    failed: list[str] = Field(description="Requirements it could not install")
    error: bool = Field(description="Whether requirements.txt could not be read or applied")
    messages: dict[str, str] | None = Field(
        None, description="The installer's message per failed requirement (with a token only)"
    )
    error_message: str | None = Field(None, description="The error's text (with a token only)")


class WorkerHealth(BaseModel):
    id: str | None = Field(description="host:pid (with a token only)")
    concurrency: int | None
    seen_at: float | None = Field(description="Last heartbeat, Unix time")
    packages: WorkerPackages


class Health(BaseModel):
    """The same fields with and without a token; a token only fills in the details."""

    status: Literal["ok", "degraded"]
    mode: Literal["embedded", "distributed"]
    database: ComponentHealth
    cache: ComponentHealth
    workers: list[WorkerHealth]


class PackageInfo(BaseModel):
    name: str
    requirement: str
    installed_version: str | None


class IgnoredLine(BaseModel):
    line: str
    error: str | None


class WorkerPackageReport(BaseModel):
    """What one worker did to its package directory."""

    id: str | None = None
    hash: str | None = None
    requirements: list[str] = Field(default_factory=list)
    installed: list[str] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict)
    removed: list[str] = Field(default_factory=list)
    ignored: list[str] = Field(default_factory=list)
    error: str | None = None
    generation: int = 0
    tool: str | None = None
    seconds: float = 0.0


class PackageList(BaseModel):
    hash: str | None = Field(description="sha256 of requirements.txt")
    packages: list[PackageInfo]
    ignored: list[IgnoredLine]
    workers: list[WorkerPackageReport]


class WorkerAck(BaseModel):
    """A worker's answer after it recycled onto the new requirements."""

    installed: list[str] | None = None
    failed: dict[str, str] | None = None
    removed: list[str] | None = None
    error: str | None = None


class RequirementsChange(BaseModel):
    job_id: str
    name: str
    changed: bool = Field(description="False: requirements.txt already said so")
    hash: str | None
    generation: int
    workers: dict[str, WorkerAck] = Field(description="Answers per worker id")
    waiting_for: list[str] = Field(description="Workers that did not answer in time")


class InstallResult(RequirementsChange):
    requirement: str
    installed: list[str]
    tool: str


class RemoveResult(RequirementsChange):
    lines: list[str] = Field(description="The lines removed from requirements.txt")
    uninstalled: list[str] | None = None


class InstallStarted(BaseModel):
    job_id: str
    status: Literal["started"]
    channel: str = Field(description="Subscribe to it on /api/ws for progress and the outcome")


class JobInfo(BaseModel):
    """A background job (a package install or removal): its state, progress and outcome."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    status: JobStatus
    progress: dict[str, Any] | None = Field(
        description="The last progress event: phase, current, total, path, message"
    )
    log: str = Field(description="The tail of the job's output")
    result: dict[str, Any] | None
    error: dict[str, Any] | None = Field(description="type and message, when the job failed")
    created_by: str | None
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None


# --- GitHub configuration (/api/github/...) ----------------------------------------------------


class GitHubConfig(BaseModel):
    """The workspace's connection; never the token, nor any part of it."""

    model_config = ConfigDict(from_attributes=True)

    connected: bool
    repository: str | None = Field(description="owner/name")
    branch: str | None
    api_url: str = Field(description="BIFROST_GITHUB_API_URL")
    auth: Literal["token", "app"] | None = Field(
        None, description="token: a personal access token; app: a GitHub App's installation"
    )
    app_id: str | None = Field(None, description="The GitHub App's id (auth app)")
    installation_id: int | None = Field(None, description="The app's installation (auth app)")
    connected_by: str | None
    connected_at: Timestamp | None
    synced_commit: str | None = Field(description="The branch commit of the last sync")
    synced_at: Timestamp | None


class AppFields(BaseModel):
    """A GitHub App instead of a token: its id and private key (and, optionally, the
    installation; without it the installation is found from the repository)."""

    app_id: str | int | None = Field(
        None, description="The GitHub App's id (or client id), instead of a token"
    )
    private_key: str | None = Field(
        None, min_length=1, max_length=16_384, description="The app's PEM key: sealed, never shown"
    )
    installation_id: StrictInt | None = Field(
        None, description="The app's installation (null: found from the repository)"
    )

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        token = getattr(self, "token", None)
        app = self.app_id is not None or self.private_key is not None
        if app and token is not None:
            raise ValueError("give either token or app_id and private_key, not both")
        if app and (self.app_id is None or self.private_key is None):
            raise ValueError("a GitHub App needs both app_id and private_key")
        if self.installation_id is not None and not app:
            raise ValueError("installation_id goes with app_id and private_key")
        return self


class ValidateRequest(AppFields):
    token: str | None = Field(
        None, min_length=1, max_length=512, description="Checked, never stored"
    )


class RepositoriesRequest(ValidateRequest):
    """A listing with a credential given for this call only (in the body, never in a URL):
    what a first connection picks its repository from. No credential: the stored one."""

    page: int = Field(1, ge=1, le=100_000, description="1 is the first page")
    per_page: int = Field(50, ge=1, le=100)


class BranchesRequest(ValidateRequest):
    """A repository's branches, with a credential given for this call only."""

    repository: str = Field(min_length=3, max_length=140, description="owner/name")
    page: int = Field(1, ge=1, le=100_000, description="1 is the first page")


class GitHubViewer(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    login: str
    scopes: list[str] | None = Field(description="A classic token's scopes; null otherwise")


class ConfigureRequest(AppFields):
    repository: str = Field(min_length=3, max_length=140, description="owner/name")
    branch: str = Field(min_length=1, max_length=255)
    token: str | None = Field(
        None,
        min_length=1,
        max_length=512,
        description="A personal token; null (and no app_id): keep the stored credential",
    )


class GitHubRepository(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    full_name: str
    private: bool
    default_branch: str | None
    can_push: bool
    html_url: str | None


class CreateRepositoryRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    private: StrictBool = True
    description: str | None = Field(None, max_length=350)
    token: str | None = Field(
        None,
        min_length=1,
        max_length=512,
        description="Create with this token, not stored (before connecting); null: the stored one",
    )


class GitHubBranch(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    sha: str


class GitHubCommit(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sha: str
    message: str
    author: str | None
    date: str | None = Field(description="ISO 8601, as GitHub gives it")
    html_url: str | None


class RepositoryPage(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    items: list[GitHubRepository]
    next_page: int | None


class BranchPage(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    items: list[GitHubBranch]
    next_page: int | None


class CommitPage(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    items: list[GitHubCommit]
    next_page: int | None
