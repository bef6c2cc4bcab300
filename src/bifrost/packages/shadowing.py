"""Which top-level modules a distribution installs, and which of them no package may provide.

A package that ships ``selectors.py``, ``email/`` or ``sitecustomize.py`` replaces part of the
interpreter for every process that has the package directory early on its path (finding H1: the
template imported such a ``selectors.py`` as root). The directory now comes after the standard
library, so such a file would be dead weight at best; it is refused anyway, with the reason, so a
mistake or an attack is visible instead of lurking for the next interpreter that looks there.

The names come from three places, all read, none imported: the ``RECORD`` (what the installer wrote,
first path segment), ``top_level.txt`` (what the build declared) and the files actually present in
the staging directory (whatever wrote them).
"""

from __future__ import annotations

import csv
import importlib.machinery
import sys
from collections.abc import Iterable
from pathlib import Path

from packaging.utils import canonicalize_name

START_UP = {
    "sitecustomize": "Python runs it at start-up",
    "usercustomize": "Python runs it at start-up",
}
OWN = {"bifrost": "it is Bifrost's own package"}
_SUFFIXES = sorted(importlib.machinery.all_suffixes(), key=len, reverse=True)
_NOT_MODULES = (".dist-info", ".data", ".egg-info")


def module_name(entry: str) -> str | None:
    """The module a top-level file or directory would be imported as, or None.

    ``x.py``, ``x.cpython-311-x86_64-linux-gnu.so``, ``x.pyc`` and a directory ``x`` (a package or
    a namespace portion) are all ``x``; metadata and data directories are nothing."""
    if entry.endswith(_NOT_MODULES) or entry == "__pycache__":
        return None
    for suffix in _SUFFIXES:
        if entry.endswith(suffix) and len(entry) > len(suffix):
            return entry[: -len(suffix)]
    return entry if entry.isidentifier() else None


def why_forbidden(module: str) -> str | None:
    """Why no package may provide ``module``, or None when it may."""
    if module in START_UP:
        return START_UP[module]
    if module in OWN:
        return OWN[module]
    if module in sys.stdlib_module_names:
        return "it is a standard-library module"
    return None


def _lines(dist_info: Path, name: str) -> list[str]:
    try:
        return (dist_info / name).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def record_entries(dist_info: Path) -> set[str]:
    """First path segments of the files the RECORD lists (``..`` paths lead out of the target)."""
    heads = {
        row[0].replace("\\", "/").split("/", 1)[0]
        for row in csv.reader(_lines(dist_info, "RECORD"))
        if row
    }
    return heads - {"", ".."}


def declared_modules(dist_info: Path) -> set[str]:
    """Names in ``top_level.txt`` (setuptools writes it; others may not)."""
    return {line.strip().split("/", 1)[0] for line in _lines(dist_info, "top_level.txt")} - {""}


def forbidden(entries: Iterable[str]) -> list[tuple[str, str]]:
    """``(module, reason)`` for each top-level entry that would shadow what it must not."""
    found = {}
    for entry in entries:
        module = module_name(entry)
        reason = why_forbidden(module) if module else None
        if module and reason:
            found[module] = reason
    return sorted(found.items())


def distribution_refusal(dist_info: Path) -> str | None:
    """Why the distribution in ``dist_info`` (inside a staging directory) must not be installed."""
    bad = forbidden(record_entries(dist_info) | declared_modules(dist_info))
    if not bad:
        return None
    return f"{_label(dist_info)} installs {describe(bad)}: {REFUSED}"


REFUSED = "a package must never replace part of the interpreter or Bifrost, so it is refused"


def describe(bad: list[tuple[str, str]]) -> str:
    """``the top-level module 'selectors' (it is a standard-library module)``."""
    parts = [f"'{module}' ({reason})" for module, reason in bad]
    return f"the top-level module{'s' if len(parts) > 1 else ''} {', '.join(parts)}"


def _label(dist_info: Path) -> str:
    name, _, version = dist_info.name.removesuffix(".dist-info").partition("-")
    return f"{canonicalize_name(name)} {version}".strip()
