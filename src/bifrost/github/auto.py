"""What an automatic sync may do without asking: the safe part of a preview, and what it holds.

Automatic sync (``bifrost.sync``'s daemon, the push webhook) takes from the plan only what needs
no decision: pulls that orphan no workflow (a deletion of a file whose workflows are active is one
such decision), and pushes when auto-push is on. A conflict, a pull that would orphan workflows
and, without auto-push, a local change are held: only their paths wait, the rest goes through.
Pure: the preview was worked out already.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bifrost.github.plan import Action, Plan
from bifrost.github.preview import Preview


def safe_part(preview: Preview, *, push: bool) -> tuple[Preview, list[dict[str, Any]]]:
    """The preview reduced to what an automatic sync applies, and the held paths (``pending``
    in the sync status): ``{"path", "reason", ...}`` with reason ``conflict``,
    ``would_orphan``, ``deletes_workflow`` or ``local_change``."""
    plan = preview.plan
    held: list[dict[str, Any]] = [
        {"path": c.path, "reason": "conflict", "kind": c.kind.value} for c in plan.conflicts
    ]
    orphaned: dict[str, list[str]] = {}
    for orphan in preview.will_orphan:
        orphaned.setdefault(orphan.path, []).append(f"{orphan.path}::{orphan.function_name}")
    to_pull = []
    for change in plan.to_pull:
        workflows = orphaned.get(change.path)
        if workflows is None:
            to_pull.append(change)
            continue
        reason = "deletes_workflow" if change.action is Action.DELETE else "would_orphan"
        held.append({"path": change.path, "reason": reason, "workflows": workflows})
    if not push:
        held += [
            {"path": c.path, "reason": "local_change", "action": c.action.value}
            for c in plan.to_push
        ]
    safe = Plan(to_pull=to_pull, to_push=plan.to_push if push else [], settle=plan.settle)
    held.sort(key=lambda item: item["path"])
    return replace(preview, plan=safe, will_orphan=[], conflict_orphans={}), held


def has_work(preview: Preview) -> bool:
    """Whether applying the (safe) preview would change anything, bases included."""
    plan = preview.plan
    return bool(plan.to_pull or plan.to_push or plan.settle)
