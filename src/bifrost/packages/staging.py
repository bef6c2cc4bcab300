"""Install next to the package directory, inspect, then move into place.

The tool never writes the package directory itself. It installs into a private staging directory
(mode 0700, inside the target, so every move is a rename on one file system) that holds copies of
the target's ``*.dist-info`` directories and nothing else: uv then sees what is installed and adds
or upgrades only what is missing, as it would in the target, and can never touch a file that
executions import. When the tool has finished:

- :meth:`Staging.changes`: new distributions are the ``*.dist-info`` directories that are not an
  unchanged copy; leaving ones are those of the target that the tool uninstalled (an upgrade) or
  that a new distribution of the same project replaces (pip does not uninstall).
- :meth:`Staging.refusal`: a new distribution, or any new top-level file, that would shadow the
  standard library, ``sitecustomize``/``usercustomize`` or ``bifrost`` refuses the whole attempt,
  and the target stays as it was (finding H1).
- :meth:`Staging.commit`: modes become 0755 for directories and executables and 0644 for other
  files (no write bit for group or others, no set-id bit: finding M7, and a wheel can carry any
  mode), leaving distributions are removed from the target by their ``RECORD``, the new files are
  renamed into place, their ``*.dist-info`` last, so a distribution is never seen before its files.

uv's own ``.lock`` stays in the staging directory and is deleted with it: no lock that another
account could hold ever sits in the package directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from bifrost.packages import shadowing
from bifrost.packages.distributions import Dist, installed, remove_dist

PREFIX = ".bifrost-staging-"
UV_LOCK = ".lock"  # uv's lock in the directory it installs into


def _project(dist_info: Path) -> str:
    return canonicalize_name(dist_info.name.removesuffix(".dist-info").partition("-")[0])


def _record(dist_info: Path) -> bytes | None:
    try:
        return (dist_info / "RECORD").read_bytes()
    except OSError:
        return None


def _dist_infos(directory: Path) -> list[Path]:
    return sorted(
        Path(e.path)
        for e in os.scandir(directory)
        if e.name.endswith(".dist-info") and e.is_dir(follow_symlinks=False)
    )


@dataclass
class Changes:
    new: list[Path] = field(default_factory=list)  # *.dist-info directories in the staging dir
    leaving: list[Dist] = field(default_factory=list)  # distributions of the target
    entries: list[str] = field(default_factory=list)  # top-level names to move into the target


class Staging:
    """One attempt at changing ``target``; :meth:`discard` always runs afterwards."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=target))
        self._seeds: dict[str, bytes | None] = {}
        for dist_info in _dist_infos(target):
            shutil.copytree(dist_info, self.path / dist_info.name, symlinks=True)
            self._seeds[dist_info.name] = _record(dist_info)

    def changes(self) -> Changes:
        found = Changes()
        for dist_info in _dist_infos(self.path):
            name = dist_info.name
            if name in self._seeds and _record(dist_info) == self._seeds[name]:
                continue  # an unchanged copy
            found.new.append(dist_info)
        staged = {p.name for p in _dist_infos(self.path)}
        replaced = {_project(p) for p in found.new}
        found.leaving = [
            dist
            for dist in _all_dists(self.target)
            if dist.path.name not in staged or dist.name in replaced
        ]
        kept = {name for name in staged if name in self._seeds} - {p.name for p in found.new}
        found.entries = sorted(
            entry for entry in os.listdir(self.path) if entry not in kept and entry != UV_LOCK
        )
        return found

    def refusal(self, changes: Changes) -> str | None:
        """Why these changes must not reach the target, or None."""
        owned: set[str] = set()
        for dist_info in changes.new:
            reason = shadowing.distribution_refusal(dist_info)
            if reason is not None:
                return reason
            owned |= shadowing.record_entries(dist_info)
        stray = shadowing.forbidden(e for e in changes.entries if e not in owned)
        if stray:
            listed = "that no distribution lists"
            return f"the install wrote {shadowing.describe(stray)} {listed}: {shadowing.REFUSED}"
        return None

    def commit(self, changes: Changes) -> None:
        make_private(self.path)
        for dist in changes.leaving:
            remove_dist(self.target, dist)
        dist_infos = [e for e in changes.entries if e.endswith(".dist-info")]
        for entry in [e for e in changes.entries if not e.endswith(".dist-info")] + dist_infos:
            _move(self.path / entry, self.target / entry)
        _private_mode(self.target)
        with contextlib.suppress(FileNotFoundError):  # left by uv when it installed in place
            (self.target / UV_LOCK).unlink()

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _all_dists(target: Path) -> list[Dist]:
    """Every distribution of the target, including a second version of one project."""
    by_path = {dist.path.name: dist for dist in installed(target).values()}
    out = []
    for dist_info in _dist_infos(target):
        dist = by_path.get(dist_info.name)
        out.append(dist or Dist(_project(dist_info), None, dist_info))
    return out


def _move(source: Path, destination: Path) -> None:
    """Rename ``source`` over ``destination``; a directory that exists on both sides is merged
    (namespace packages, ``bin/``, ``__pycache__``)."""
    if source.is_dir() and not source.is_symlink():
        if destination.is_dir() and not destination.is_symlink():
            _private_mode(destination)
            for child in os.listdir(source):
                _move(source / child, destination / child)
            return
        _remove(destination)
        os.rename(source, destination)
        return
    if destination.is_dir() and not destination.is_symlink():
        shutil.rmtree(destination)
    os.replace(source, destination)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _private_mode(path: str | Path, st: os.stat_result | None = None) -> None:
    """0755 for directories and executables, 0644 for other files; symbolic links unchanged."""
    st = st or os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return
    executable = stat.S_ISDIR(st.st_mode) or st.st_mode & stat.S_IXUSR
    wanted = 0o755 if executable else 0o644
    if stat.S_IMODE(st.st_mode) != wanted:
        os.chmod(path, wanted)


def make_private(root: Path) -> None:
    """Give every path under ``root`` (not ``root`` itself) the modes of :func:`_private_mode`."""
    pending = [str(root)]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                _private_mode(entry.path, st)
                if stat.S_ISDIR(st.st_mode):
                    pending.append(entry.path)


def leftovers(target: Path) -> None:
    """Remove staging directories an interrupted install left behind (call under the lock)."""
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(target):
            if entry.name.startswith(PREFIX):
                shutil.rmtree(entry.path, ignore_errors=True)
