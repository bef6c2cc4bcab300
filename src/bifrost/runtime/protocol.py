"""Data shared by the executor (supervisor side) and the template process.

Stdlib only: the template imports it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class ExecutionStatus(StrEnum):
    """An execution's state; the values are what the database and the API carry."""

    PENDING = "pending"  # recorded, not yet known to have started
    RUNNING = "running"  # a worker marked it (only runs longer than 50 ms are marked)
    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"


FINISHED = (ExecutionStatus.SUCCESS, ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT)
STATUSES = tuple(status.value for status in FINISHED)  # what an outcome may say
KEEP_MANIFESTS = 8  # generations a template remembers; the executor mirrors it to skip resends


@dataclass
class ExecutionRequest:
    """One run of ``module.function(**parameters)`` pinned to at least ``generation``.

    An orphan's run names kept code instead of live files: ``kept_generation`` (the python
    manifest kept when it was orphaned), with its own module ``kept_path`` at ``kept_hash``
    (its last good source). Such a run never sees a live manifest."""

    execution_id: str
    module: str  # dotted, e.g. "workflows.hello"
    function: str
    parameters: dict[str, Any] = field(default_factory=dict)
    generation: int = 0
    timeout_s: float = 300.0
    memory_mb: int = 1024
    kept_generation: int | None = None
    kept_path: str | None = None
    kept_hash: str | None = None


@dataclass
class ExecutionOutcome:
    """What a run produced; ``result`` is JSON-compatible, ``error`` has type/message/traceback."""

    execution_id: str
    status: str  # "success" | "failed" | "timeout"
    result: Any = None
    logs: str = ""
    error: dict[str, Any] | None = None
    generation: int = 0
    duration_ms: float = 0.0


@dataclass
class Snapshot:
    """One generation of the workspace: workspace-relative path -> sha256 hex of the content.

    ``base`` and ``changes``, when set, say how ``manifest`` follows from generation ``base``
    (path -> new sha256, or None for a path that went away), so a template holding ``base`` is
    taught only the change. They are a shortcut, never the truth: ``manifest`` is always whole.
    """

    generation: int
    manifest: dict[str, str]
    base: int | None = None
    changes: dict[str, str | None] | None = None


def diff(old: dict[str, str], new: dict[str, str]) -> dict[str, str | None]:
    """The changes that turn manifest ``old`` into ``new`` (path -> sha256, None: removed)."""
    changes: dict[str, str | None] = {p: s for p, s in new.items() if old.get(p) != s}
    changes.update((p, None) for p in old.keys() - new.keys())
    return changes


def apply(manifest: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    """A new manifest: ``manifest`` (left untouched) with ``changes`` applied."""
    out = dict(manifest)
    for path, sha in changes.items():
        if sha is None:
            out.pop(path, None)
        else:
            out[path] = sha
    return out


class CodeSource(Protocol):
    """Where the executor gets manifests and blobs (implemented by the supervisor)."""

    async def snapshot(self, min_generation: int) -> Snapshot:
        """The latest manifest whose generation is >= ``min_generation``."""
        ...

    async def blob(self, sha256: str) -> bytes | None:
        """Content by sha256 hex, or None when it is unknown."""
        ...

    async def kept(self, generation: int, path: str, sha256: str) -> dict[str, str]:
        """The python manifest kept at ``generation`` with ``path`` at ``sha256``: an orphan's
        code. Raises when there is none."""
        ...
