"""The package directory as data: its distributions, what a set of requirements still lacks,
removing one distribution.

Worker start runs :func:`check` on every boot, so the "already satisfied" answer must not start a
subprocess: it reads the ``*.dist-info`` directory names of the target (name and version are in the
name), and the ``Requires-Dist`` metadata only of the distributions it walks through, then compares
with ``packaging`` specifiers and markers. Nothing here imports from the directory.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import importlib.metadata
import logging
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

log = logging.getLogger(__name__)


@dataclass
class Dist:
    """An installed distribution of the target directory."""

    name: str  # canonical
    version: Version | None
    path: Path  # its .dist-info directory

    def requires(self) -> list[Requirement]:
        found = [_requirement(text) for text in _requires_dist(self.path / "METADATA")]
        return [req for req in found if req is not None]


def _requires_dist(metadata: Path) -> list[str]:
    """The ``Requires-Dist`` headers, read directly: the e-mail parser behind importlib.metadata
    costs about a millisecond per distribution, most of the whole check."""
    try:
        text = metadata.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found: list[str] = []
    inside = False
    for line in text.replace("\r\n", "\n").split("\n\n", 1)[0].splitlines():
        if line[:1] in (" ", "\t"):
            if inside:
                found[-1] += " " + line.strip()  # a folded header line
            continue
        inside = line[:14].lower() == "requires-dist:"
        if inside:
            found.append(line[14:].strip())
    return found


@functools.lru_cache(maxsize=4096)
def _requirement(text: str) -> Requirement | None:
    """Parsed once per process: packaging's parser is the other big cost of a check."""
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


@dataclass
class Check:
    missing: list[Requirement]  # top-level requirements to (re)install
    needed: set[str]  # canonical names of installed distributions the requirements use


def applies(requirement: Requirement, extras: Iterable[str] = ("",)) -> bool:
    """Whether the marker holds here; an unevaluable marker counts as true (the tool decides)."""
    if requirement.marker is None:
        return True
    try:
        return any(requirement.marker.evaluate({"extra": extra}) for extra in extras)
    except Exception:
        return True


def installed(target: Path) -> dict[str, Dist]:
    """Distributions in ``target`` by canonical name, from directory names alone when possible."""
    found: dict[str, Dist] = {}
    try:
        entries = list(os.scandir(target))
    except FileNotFoundError:
        return found
    for entry in entries:
        if not entry.name.endswith(".dist-info") or not entry.is_dir():
            continue
        raw_name, _, raw_version = entry.name[: -len(".dist-info")].partition("-")
        path = Path(entry.path)
        try:
            version: Version | None = Version(raw_version)
        except InvalidVersion:
            metadata = importlib.metadata.PathDistribution(path).metadata
            raw_name, version = metadata["Name"] or raw_name, None
            with contextlib.suppress(InvalidVersion, TypeError):
                version = Version(metadata["Version"])
        name = canonicalize_name(raw_name)
        found.setdefault(name, Dist(name, version, path))
    return found


def check(requirements: Sequence[Requirement], target: Path) -> Check:
    """What must be installed for ``requirements`` to hold in ``target``, dependencies included."""
    dists = installed(target)
    needed: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()

    def satisfied(req: Requirement) -> bool:
        name = canonicalize_name(req.name)
        dist = dists.get(name)
        if dist is None or dist.version is None:
            return False
        if not req.specifier.contains(dist.version, prereleases=True):
            return False
        needed.add(name)
        key = (name, frozenset(req.extras))
        if key in seen:
            return True
        seen.add(key)
        extras = ("", *sorted(req.extras))
        return all(satisfied(dep) for dep in dist.requires() if applies(dep, extras))

    missing = [req for req in requirements if applies(req) and not satisfied(req)]
    return Check(missing, needed)


def remove_dist(target: Path, dist: Dist) -> bool:
    """Delete the files its RECORD lists (inside ``target`` only), then emptied directories."""
    record = dist.path / "RECORD"
    if not record.is_file():
        log.warning("cannot remove %s from %s: it has no RECORD", dist.name, target)
        return False
    root = target.resolve()
    touched: set[Path] = set()
    with record.open(newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            if not row:
                continue
            path = (target / row[0]).resolve()
            if root not in path.parents:
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            touched.update(p for p in path.parents if root in p.parents)
    shutil.rmtree(dist.path, ignore_errors=True)
    for directory in sorted(touched, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            left = {child.name for child in directory.iterdir()}
            if left <= {"__pycache__"}:
                shutil.rmtree(directory)
    return True
