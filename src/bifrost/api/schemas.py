"""Response and request bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bifrost.jobs.status import JobStatus


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
    updated_at: datetime
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
    options: dict[str, Any]
    is_active: bool
    is_orphaned: bool


class WriteResponse(BaseModel):
    file: FileInfo
    generation: int
    changed: bool
    workflows: list[WorkflowInfo]


class DeleteResponse(BaseModel):
    path: str
    generation: int


class RenameRequest(BaseModel):
    old_path: str
    new_path: str


class ExecuteRequest(BaseModel):
    parameters: dict[str, Any] = Field(default_factory=dict)
    wait: bool = True


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
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = None


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
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
