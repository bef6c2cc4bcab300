"""Who uses a workflow: the forms, agents and apps that name it, and the workflows whose module
statically imports its module.

Both come from indexes the unit of work keeps as files are written (``entity_refs``, resolved to
workflow ids; ``workspace_files.imports``), so answering costs a few queries whatever the size
of the workspace, and the answer is never older than the last committed write.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy import String, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bifrost.store.models import Entity, EntityRef, Workflow, WorkspaceFile
from bifrost.workspace.paths import module_name

BULK = 200  # LIKE clauses per query

ReferenceKind = Literal["form", "agent", "app", "workflow"]


@dataclass(frozen=True)
class Reference:
    """One user of a workflow: an entity (``form``, ``agent``, ``app``: its id, name and
    file) or a ``workflow`` whose module imports the workflow's module."""

    kind: ReferenceKind
    id: str
    name: str
    path: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sorted(found: Iterable[Reference]) -> list[Reference]:
    return sorted(set(found), key=lambda r: (r.kind, r.path, r.name, r.id))


async def used_by(
    session: AsyncSession, workflows: Sequence[Workflow]
) -> dict[str, list[Reference]]:
    """workflow id -> every form, agent, app and workflow that uses it (each once, sorted by
    kind, path and name); a workflow nobody uses maps to ``[]``. A workflow never lists
    itself, nor the other workflows of its own file."""
    found: dict[str, set[Reference]] = {w.id: set() for w in workflows}
    ids = list(found)
    for start in range(0, len(ids), BULK):
        rows = await session.execute(
            select(EntityRef.workflow_id, Entity.kind, Entity.id, Entity.name, Entity.path)
            .join(Entity, Entity.id == EntityRef.entity_id)
            .where(EntityRef.workflow_id.in_(ids[start : start + BULK]))
            .where(Entity.is_deleted.is_(False))
        )
        for workflow_id, kind, entity_id, name, path in rows:
            found[workflow_id].add(Reference(kind, entity_id, name, path))
    by_module: dict[str, list[Workflow]] = {}
    for workflow in workflows:
        module = module_name(workflow.path)
        if module:
            by_module.setdefault(module, []).append(workflow)
    importers = await _importers(session, list(by_module))
    if importers:
        rows = await session.scalars(
            select(Workflow).where(
                Workflow.path.in_(sorted(importers)),
                or_(Workflow.is_active.is_(True), Workflow.is_orphaned.is_(True)),
            )
        )
        for user in rows:
            for module in importers[user.path]:
                for workflow in by_module[module]:
                    if user.path != workflow.path:
                        found[workflow.id].add(Reference("workflow", user.id, user.name, user.path))
    return {workflow_id: _sorted(refs) for workflow_id, refs in found.items()}


async def _importers(session: AsyncSession, modules: list[str]) -> dict[str, set[str]]:
    """Live .py path -> which of ``modules`` it imports. The JSON text is narrowed with LIKE
    (the quoted name), then read exactly."""
    wanted = set(modules)
    found: dict[str, set[str]] = {}
    for start in range(0, len(modules), BULK):
        chunk = modules[start : start + BULK]
        text = cast(WorkspaceFile.imports, String)
        rows = await session.execute(
            select(WorkspaceFile.path, WorkspaceFile.imports).where(
                WorkspaceFile.is_deleted.is_(False),
                WorkspaceFile.imports.is_not(None),
                or_(*(text.contains(json.dumps(m), autoescape=True) for m in chunk)),
            )
        )
        for path, imports in rows:
            hits = wanted.intersection(imports or ())
            if hits:
                found.setdefault(path, set()).update(hits)
    return found
