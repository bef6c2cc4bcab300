"""Tables. The database is the source of truth: caches are rebuilt from these rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bifrost.names import JobStatus
from bifrost.runtime.protocol import ExecutionStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Workspace(Base):
    """One row. ``generation`` grows by one in every transaction that changes the workspace."""

    __tablename__ = "workspace"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


class WorkspaceFile(Base):
    __tablename__ = "workspace_files"
    __table_args__ = (
        UniqueConstraint("path", name="uq_workspace_files_path"),
        Index("ix_workspace_files_content_hash", "content_hash"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    path: Mapped[str] = mapped_column(String(1000))
    entity_type: Mapped[str] = mapped_column(String(32))
    # Python and text files live here; binary and large files in the object store, by hash.
    content: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    in_object_store: Mapped[bool] = mapped_column(Boolean, default=False)
    content_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex
    git_sha: Mapped[str] = mapped_column(String(40))  # git blob id of the content
    github_sha: Mapped[str | None] = mapped_column(String(40), nullable=True)  # base at last sync
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(255))
    mode: Mapped[str] = mapped_column(String(6), default="100644")
    diagnostics: Mapped[str | None] = mapped_column(Text, nullable=True)
    # A .py file's static imports (dotted names, sorted): who uses a workflow's module.
    imports: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    generation: Mapped[int] = mapped_column(BigInteger)  # the generation that last changed it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(255), nullable=True)

    @property
    def git_status(self) -> str:
        """Derived from the SHAs, never stored: untracked, synced, modified or deleted."""
        if self.is_deleted:
            return "deleted"
        if self.github_sha is None:
            return "untracked"
        return "synced" if self.github_sha == self.git_sha else "modified"


class Workflow(Base):
    """A decorated function in a workspace file, found by (path, function name) so ids survive.

    The key is not unique: a replaced orphan points at another function, whose own row stays,
    so two rows may name one function (every write updates both)."""

    __tablename__ = "workflows"
    __table_args__ = (Index("ix_workflows_path_function", "path", "function_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    path: Mapped[str] = mapped_column(String(1000))
    function_name: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))  # workflow | data_provider
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_async: Mapped[bool] = mapped_column(Boolean, default=False)
    parameters: Mapped[list[Any]] = mapped_column(JSON, default=list)
    returns: Mapped[str | None] = mapped_column(Text, nullable=True)  # return annotation
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_orphaned: Mapped[bool] = mapped_column(Boolean, default=False)
    # The module's last good source: the content (sha256) and generation of the last write in
    # which the file parsed and held this function. An orphan runs exactly that source.
    source_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_generation: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Set when orphaned: the generation just before the orphaning change, whose python modules
    # (``kept_manifests``) the orphan's imports resolve against.
    orphaned_generation: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class KeptSource(Base):
    """A python source an orphan may still import, by content hash: kept when it is no longer
    in any live file (content-addressed, so one copy however many orphans use it)."""

    __tablename__ = "kept_sources"

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class KeptManifest(Base):
    """The python modules (path -> sha256) live at ``generation``: the state just before a
    change that orphaned workflows, which their imports resolve against."""

    __tablename__ = "kept_manifests"

    generation: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Entity(Base):
    """A form, agent or app: the index of one ``*.form.json`` / ``*.agent.json`` / ``*.app.json``
    file, written in the same unit of work as the file. Keyed by path, so its id survives edits,
    renames and a delete followed by a restore; the file is the truth, this row is derived."""

    __tablename__ = "entities"
    __table_args__ = (
        UniqueConstraint("path", name="uq_entities_path"),
        Index("ix_entities_kind_path", "kind", "path"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))  # form | agent | app
    path: Mapped[str] = mapped_column(String(1000))
    name: Mapped[str] = mapped_column(String(255))
    definition: Mapped[dict[str, Any] | None] = mapped_column(
        JSON(none_as_null=True), nullable=True
    )
    invalid: Mapped[str | None] = mapped_column(Text, nullable=True)  # why, or None: valid
    broken_refs: Mapped[list[Any]] = mapped_column(JSON, default=list)  # "path::function"s
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    generation: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(255), nullable=True)


class EntityRef(Base):
    """One workflow an entity names (``role``: workflow, data_provider, tool, page), and the
    workflow it resolved to (None: no such workflow, a broken reference)."""

    __tablename__ = "entity_refs"
    __table_args__ = (
        Index("ix_entity_refs_target", "path", "function_name"),
        Index("ix_entity_refs_workflow", "workflow_id"),
    )

    entity_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("entities.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    target: Mapped[str] = mapped_column(String(1300), primary_key=True)  # path::function
    path: Mapped[str] = mapped_column(String(1000))
    function_name: Mapped[str] = mapped_column(String(255))
    workflow_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("workflows.id", ondelete="SET NULL"), nullable=True
    )


class Execution(Base):
    __tablename__ = "executions"
    # Newest first, with the id to break ties: the order /api/executions pages in (keyset).
    __table_args__ = (Index("ix_executions_created_at_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workflow_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("workflows.id", ondelete="SET NULL"), nullable=True
    )
    path: Mapped[str] = mapped_column(String(1000))
    function_name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=ExecutionStatus.PENDING.value)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[Any] = mapped_column(JSON, nullable=True)
    logs: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Pinned at dispatch; the run sees this generation or a newer one, never older, never two.
    generation: Mapped[int] = mapped_column(BigInteger)
    ran_generation: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    worker: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)


class Job(Base):
    """Background work started by a request and run by a scheduler (``bifrost.jobs``)."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status", "status"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=lambda: uuid.uuid4().hex)
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[JobStatus] = mapped_column(
        Enum(
            JobStatus,
            name="job_status",
            native_enum=False,
            create_constraint=True,
            values_callable=lambda statuses: [s.value for s in statuses],
        ),
        default=JobStatus.PENDING,
    )
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    log: Mapped[str] = mapped_column(Text, default="")  # the tail, at most LOG_LIMIT characters
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    runner: Mapped[str | None] = mapped_column(String(255), nullable=True)  # the scheduler's id
    created_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ApiToken(Base):
    """Only the sha256 of a token is kept, so a database dump reveals no usable token."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GitHubConnection(Base):
    """One row when the workspace is connected to a repository and branch. The token is kept
    only encrypted (``bifrost.secrets``); nothing ever returns it."""

    __tablename__ = "github_connection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    repository: Mapped[str] = mapped_column(String(255))  # owner/name
    branch: Mapped[str] = mapped_column(String(255))
    token_ciphertext: Mapped[str] = mapped_column(Text)
    connected_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    connected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The commit the workspace was last fully synced with (None: never synced).
    synced_commit: Mapped[str | None] = mapped_column(String(40), nullable=True)
    synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class GitHubRemote(Base):
    """The last tree read from the branch: its head commit, the ref's ETag and every entry
    (``{path: [mode, sha]}``), so a preview whose ref read answers 304 needs no other call."""

    __tablename__ = "github_remote"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    commit_sha: Mapped[str] = mapped_column(String(40))
    tree_sha: Mapped[str] = mapped_column(String(40))
    etag: Mapped[str | None] = mapped_column(String(255), nullable=True)
    entries: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GitHubJournal(Base):
    """A push's intent, written before the ref update and removed in the transaction that
    records its result: a sync that finds one checks it against the branch and finishes it."""

    __tablename__ = "github_journal"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the job id
    commit_sha: Mapped[str] = mapped_column(String(40))  # the commit the push made
    parent_sha: Mapped[str | None] = mapped_column(String(40), nullable=True)
    entries: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # path -> blob sha | None
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Lease(Base):
    """A named lock with an owner, an expiry and a fence number that grows at every new holder,
    so work done under a lease that was lost meanwhile can be refused (``bifrost.store.leases``)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))
    fence: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SyncState(Base):
    """One row per sync target (``bifrost.sync``): what its last run did, when the next is due,
    the decisions waiting and the circuit breaker, shared by every process."""

    __tablename__ = "sync_status"

    target: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    pending: Mapped[list[Any]] = mapped_column(JSON, default=list)
    breaker_failures: Mapped[int] = mapped_column(Integer, default=0)
    breaker_retry_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
