"""Three-way text merge of a file both sides edited, and the unified diffs the preview shows.

Pure (no I/O). Lines are compared as the exact bytes (endings included), so a clean merge
introduces no byte either side did not write. Binary content (NUL bytes, or not UTF-8) is never
merged and never diffed: a line merge of it could produce bytes neither side had.
"""

from __future__ import annotations

import difflib

import merge3

from bifrost.workspace.entities import is_binary

NO_NEWLINE = "\\ No newline at end of file\n"


def is_text(content: bytes) -> bool:
    return not is_binary(content)


def merge(base: bytes, local: bytes, remote: bytes) -> bytes | None:
    """The merge of both sides' edits of ``base``, or None if they overlap (or one is binary)."""
    if not (is_text(base) and is_text(local) and is_text(remote)):
        return None
    base_lines, local_lines, remote_lines = (_lines(side) for side in (base, local, remote))
    merged: list[bytes] = []
    for region in merge3.Merge3(base_lines, local_lines, remote_lines).merge_regions():
        kind, start, end = region[0], region[1], region[2]
        if kind == "conflict":
            return None
        source = {"unchanged": base_lines, "same": local_lines, "a": local_lines}.get(
            kind, remote_lines
        )
        merged.extend(source[start:end])
    return b"".join(merged)


def unified_diff(path: str, old: bytes, new: bytes, *, old_side: str, new_side: str) -> str | None:
    """``old`` -> ``new`` as a unified diff (``--- old_side/path``, ``+++ new_side/path``), or None
    if either is binary. A last line without a newline is marked as git marks it."""
    if not (is_text(old) and is_text(new)):
        return None
    lines = difflib.unified_diff(
        [line.decode() for line in _lines(old)],
        [line.decode() for line in _lines(new)],
        fromfile=f"{old_side}/{path}",
        tofile=f"{new_side}/{path}",
    )
    return "".join(line if line.endswith("\n") else f"{line}\n{NO_NEWLINE}" for line in lines)


def _lines(content: bytes) -> list[bytes]:
    """Lines as git sees them: split after each LF only (a CR stays part of its line)."""
    parts = content.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    return [*lines, parts[-1]] if parts[-1] else lines
