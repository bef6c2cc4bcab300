"""The sync targets, their options, and the check of both: one table every entry point uses.

``sync("all")`` runs the targets in :data:`bifrost.names.SYNC_TARGETS` order, the priority order:
``github`` first (it brings new content into the database), then ``modules`` and
``requirements`` (the caches then match what was just pulled), then ``objects`` (the slowest: it
reads every stored object).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bifrost.errors import InvalidInput
from bifrost.names import SYNC_ALL, SYNC_TARGETS

RESOLUTIONS = ("keep_local", "keep_remote", "merge")

# target -> option -> (what it means, its default)
OPTIONS: dict[str, dict[str, tuple[str, Any]]] = {
    "github": {
        "conflict_resolutions": ('{path: "keep_local" | "keep_remote" | "merge"}', {}),
        "confirm_orphans": ("go on even if workflows lose their function", False),
    },
    "modules": {"repair": ("fix what differs (false: only report)", True)},
    "requirements": {"repair": ("fix what differs (false: only report)", True)},
    "objects": {},
    SYNC_ALL: {},
}


def valid_targets() -> str:
    return ", ".join((*SYNC_TARGETS, SYNC_ALL))


def check(target: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The target's options with defaults filled in; InvalidInput naming what is allowed."""
    if target not in OPTIONS:
        raise InvalidInput(f"unknown sync target {target!r}; valid targets: {valid_targets()}")
    known = OPTIONS[target]
    unknown = sorted(set(options) - set(known))
    if unknown:
        allowed = ", ".join(known) if known else "none"
        raise InvalidInput(
            f"unknown option {', '.join(unknown)} for sync target {target!r}; valid options: "
            f"{allowed}"
        )
    checked = {name: default for name, (_, default) in known.items()}
    checked.update(options)
    for name in ("confirm_orphans", "repair"):
        if name in checked and not isinstance(checked[name], bool):
            raise InvalidInput(f"option {name} of sync target {target!r} must be true or false")
    resolutions = checked.get("conflict_resolutions")
    if resolutions is not None:
        if not isinstance(resolutions, Mapping) or not all(
            isinstance(path, str) and value in RESOLUTIONS for path, value in resolutions.items()
        ):
            raise InvalidInput(
                f"option conflict_resolutions must map each path to one of {', '.join(RESOLUTIONS)}"
            )
        checked["conflict_resolutions"] = dict(resolutions)
    return checked
