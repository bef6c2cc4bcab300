"""A job's state; the values are what the database and ``GET /api/jobs/{id}`` carry."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "pending"  # recorded and queued, no scheduler has taken it yet
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


UNFINISHED = (JobStatus.PENDING, JobStatus.RUNNING)
