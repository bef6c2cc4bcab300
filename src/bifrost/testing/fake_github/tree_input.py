"""The checks GitHub makes on the entries of ``POST /git/trees`` and on paths it is given."""

from __future__ import annotations

from typing import Any

from dulwich.objects import Blob, Tree

from bifrost.testing.fake_github.errors import invalid
from bifrost.testing.fake_github.repo import MODES, Change, GitRepo, kind_of

BAD_PARTS = {"", ".", "..", ".git"}
HEX = set("0123456789abcdef")


def check_path(path: str) -> str:
    if path.startswith("/") or any(part in BAD_PARTS for part in path.split("/")):
        raise invalid(f"tree.path contains a malformed path component: {path}")
    return path


def changes(repo: GitRepo, entries: list[Any]) -> dict[str, Change]:
    """path -> (mode, sha) or None (delete). Inline ``content`` becomes a blob here; both
    ``sha`` and ``content`` is a 422, as is an object that doesn't exist or has the wrong type."""
    out: dict[str, Change] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise invalid('Invalid request.\n\n"path" wasn\'t supplied.')
        path = check_path(entry["path"])
        try:
            mode = int(str(entry.get("mode", "")), 8)
        except ValueError:
            mode = -1
        if mode not in MODES:
            raise invalid(
                f"tree.mode must be one of 100644, 100755, 040000, 160000, 120000: {path}"
            )
        kind = entry.get("type", kind_of(mode))
        if kind != kind_of(mode):
            raise invalid(f"tree.type {kind} does not match mode {entry['mode']}: {path}")
        sha, content = entry.get("sha"), entry.get("content")
        if sha is not None and content is not None:
            raise invalid("Must supply either tree.sha or tree.content, not both")
        if content is not None:
            if not isinstance(content, str) or kind != "blob":
                raise invalid(f"tree.content must be a string for a blob: {path}")
            out[path] = (mode, repo.add_blob(content.encode()))
        elif sha is not None:
            wanted = {"blob": Blob, "tree": Tree}.get(kind)
            if not _is_sha(sha) or (wanted and not repo.has(sha, wanted)):
                raise invalid(f"tree.sha {sha} is not a valid {kind}")
            out[path] = (mode, sha)
        elif "sha" in entry:
            out[path] = None
        else:
            raise invalid("Must supply either tree.sha or tree.content")
    return out


def _is_sha(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 40 and all(c in HEX for c in value)
