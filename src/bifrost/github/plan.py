"""The three-way classification of a sync: for each path, its base, local and remote git blob SHAs.

Pure (no I/O), so every row of the table is tested on its own. ``base`` is the SHA GitHub had at
the last sync (``github_sha``; kept on a locally deleted file's row), ``local`` the workspace's,
``remote`` the branch's; ``None`` means absent. Identical content on both sides is never a
conflict, whatever the base says: it only needs its base recorded (``settle``).

    base   local  remote   outcome
    -      -      -        nothing
    -      L      -        push add
    -      -      R        pull add
    -      X      X        settle (base := X)
    -      L      R        conflict add/add
    B      B      B        nothing
    B      L      B        push modify
    B      B      R        pull modify
    B      X      X        settle (base := X)
    B      L      R        conflict modify/modify
    B      -      B        push delete
    B      B      -        pull delete
    B      -      -        settle (base := none)
    B      -      R        conflict delete/modify (deleted here, changed there)
    B      L      -        conflict modify/delete (changed here, deleted there)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Action(StrEnum):
    ADD = "add"
    MODIFY = "modify"
    DELETE = "delete"


class ConflictKind(StrEnum):
    ADD_ADD = "add_add"
    MODIFY_MODIFY = "modify_modify"
    MODIFY_DELETE = "modify_delete"  # modified here, deleted on the branch
    DELETE_MODIFY = "delete_modify"  # deleted here, modified on the branch


class Resolution(StrEnum):
    KEEP_LOCAL = "keep_local"
    KEEP_REMOTE = "keep_remote"
    MERGE = "merge"  # only for a conflict whose three-way text merge is clean


@dataclass(frozen=True)
class Change:
    """One side changed ``path``; the sync copies it to the other side."""

    path: str
    action: Action
    base_sha: str | None
    local_sha: str | None
    remote_sha: str | None


@dataclass(frozen=True)
class Conflict:
    path: str
    kind: ConflictKind
    base_sha: str | None
    local_sha: str | None
    remote_sha: str | None


@dataclass(frozen=True)
class Settle:
    """Both sides agree already; only the base must become ``sha``."""

    path: str
    sha: str | None


Outcome = Change | Conflict | Settle | None


@dataclass(frozen=True)
class Plan:
    to_pull: list[Change] = field(default_factory=list)
    to_push: list[Change] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    settle: list[Settle] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """Nothing for the user to see: settling bases alone changes no content."""
        return not (self.to_pull or self.to_push or self.conflicts)


def _action(before: str | None, after: str | None) -> Action:
    if before is None:
        return Action.ADD
    return Action.DELETE if after is None else Action.MODIFY


def classify(path: str, base: str | None, local: str | None, remote: str | None) -> Outcome:
    """One row of the table above."""
    if local == remote:
        return None if base == local else Settle(path, local)
    if local == base:
        return Change(path, _action(base, remote), base, local, remote)
    if remote == base:
        return Change(path, _action(base, local), base, local, remote)
    if base is None:
        kind = ConflictKind.ADD_ADD
    elif local is None:
        kind = ConflictKind.DELETE_MODIFY
    elif remote is None:
        kind = ConflictKind.MODIFY_DELETE
    else:
        kind = ConflictKind.MODIFY_MODIFY
    return Conflict(path, kind, base, local, remote)


def plan(base: Mapping[str, str], local: Mapping[str, str], remote: Mapping[str, str]) -> Plan:
    """Classify every path any side knows, in path order."""
    result = Plan()
    for path in sorted(set(base) | set(local) | set(remote)):
        b, lo, r = base.get(path), local.get(path), remote.get(path)
        outcome = classify(path, b, lo, r)
        if isinstance(outcome, Change):
            (result.to_push if lo != b else result.to_pull).append(outcome)
        elif isinstance(outcome, Conflict):
            result.conflicts.append(outcome)
        elif isinstance(outcome, Settle):
            result.settle.append(outcome)
    return result
