"""The confinement policies of executions and package builds, from the settings.

Both hide root's home, the data directory (database, WAL, tokens, objects) and whatever the
operator adds; executions get the package directory back read-only, builds read-write (with their
own cache). ``None`` means the operator turned confinement off (``BIFROST_SANDBOX=off``).
"""

from __future__ import annotations

from pathlib import Path

from bifrost.runtime.confine import Policy
from bifrost.settings import Settings


def _policy(settings: Settings, keep: list[Path], write: list[Path]) -> Policy | None:
    if settings.sandbox == "off":
        return None
    hide = ["/root", str(settings.data_dir.resolve()), *settings.sandbox_hide]
    return Policy(
        hide=tuple(hide),
        keep=tuple(str(p) for p in keep),
        write=tuple(str(p) for p in write),
        uid_base=settings.sandbox_uid_base,
        pids_max=settings.execution_pids_max,
        memory_mb=settings.execution_memory_mb,
        scratch_mb=settings.execution_scratch_mb,
    )


def execution_policy(settings: Settings) -> Policy | None:
    keep = [settings.packages_path]
    if settings.export_dir is not None:
        keep.append(settings.export_dir.resolve())
    return _policy(settings, keep, [])


def build_cache(settings: Settings) -> Path:
    """uv's and pip's cache for builds: theirs alone, inside the hidden data directory."""
    return settings.data_dir.resolve() / "build-cache"


def build_policy(settings: Settings) -> Policy | None:
    """The installer adds the target and the cache as writable (see ``Installer``)."""
    return _policy(settings, [], [])
