"""Replacing an orphan: which live workflows could stand in for it, and pointing it at one.

The orphan's row is kept (its id is what forms, agents, apps and schedules hold), and only what
it runs changes; the target's own row is left as it was, so two rows may then run the same
function. The comparison itself is pure (:mod:`bifrost.workspace.signatures`).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bifrost.errors import Conflict, InvalidInput, NotFound
from bifrost.store.db import Database
from bifrost.store.models import Workflow, utcnow
from bifrost.workspace.signatures import Match, Rank, Signature, compare

# What the orphan takes over from its replacement: everything that describes the function.
_TAKEN_OVER = (
    "path",
    "function_name",
    "name",
    "kind",
    "description",
    "is_async",
    "parameters",
    "returns",
    "options",
    "source_hash",
    "source_generation",
)


@dataclass(frozen=True)
class Candidate:
    workflow: Workflow
    match: Match


def _signature(workflow: Workflow) -> Signature:
    return Signature(workflow.kind, workflow.parameters, workflow.returns)


def _ranked(orphan: Workflow, candidates: list[Candidate]) -> list[Candidate]:
    """Exact first; then the same function name, then the same folder, then by path."""
    folder = posixpath.dirname(orphan.path)

    def key(candidate: Candidate) -> tuple[bool, bool, bool, str, str]:
        workflow = candidate.workflow
        return (
            candidate.match.rank is not Rank.EXACT,
            workflow.function_name != orphan.function_name,
            posixpath.dirname(workflow.path) != folder,
            workflow.path,
            workflow.function_name,
        )

    return sorted(candidates, key=key)


async def _workflow(session: AsyncSession, workflow_id: str) -> Workflow:
    workflow = await session.get(Workflow, workflow_id)
    if workflow is None:
        raise NotFound(f"no workflow has id {workflow_id}")
    return workflow


async def candidates(db: Database, workflow_id: str) -> tuple[Workflow, list[Candidate]]:
    """The workflow and the live ones that could replace it, best first, each with its reason."""
    async with db.read() as session:
        orphan = await _workflow(session, workflow_id)
        rows = await session.scalars(
            select(Workflow).where(
                Workflow.is_active.is_(True),
                Workflow.is_orphaned.is_(False),
                Workflow.id != orphan.id,
            )
        )
        wanted = _signature(orphan)
        found = [Candidate(row, compare(wanted, _signature(row))) for row in rows]
    return orphan, _ranked(orphan, [c for c in found if c.match.usable])


async def replace(db: Database, workflow_id: str, path: str, function: str) -> Workflow:
    """Point an orphan at ``path::function``, keeping its id; refused, with the parameter at
    fault, when the target cannot take every call the orphan could."""
    async with db.write() as session:
        orphan = await _workflow(session, workflow_id)
        if not orphan.is_orphaned:
            raise Conflict(
                f"workflow {orphan.name} ({orphan.path}::{orphan.function_name}) is not "
                "orphaned; only an orphan is replaced"
            )
        target = await session.scalar(
            select(Workflow)
            .where(
                Workflow.path == path,
                Workflow.function_name == function,
                Workflow.is_orphaned.is_(False),
                Workflow.id != orphan.id,
            )
            .limit(1)
        )
        if target is None:
            raise NotFound(
                f"{path} has no workflow {function}; GET /api/workflows/{workflow_id}/"
                "compatible-replacements lists the ones that fit"
            )
        match = compare(_signature(orphan), _signature(target))
        if not match.usable:
            raise InvalidInput(f"{path}::{function} cannot replace {orphan.name}: {match.reason}")
        for column in _TAKEN_OVER:
            setattr(orphan, column, getattr(target, column))
        orphan.is_orphaned = False
        orphan.orphaned_generation = None
        orphan.is_active = True
        orphan.updated_at = utcnow()
    return orphan
