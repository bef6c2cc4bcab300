"""The push journal: a push's intended commit, written before the branch is moved.

A crash between GitHub moving the branch and the database recording it would otherwise leave the
workspace with old bases for files GitHub already has, and the next sync would see conflicts that
are not there. With the journal, the next sync asks GitHub whether the commit landed and records
it, or drops the journal if it did not (then nothing was pushed and nothing is lost).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bifrost.store.db import Database
from bifrost.store.models import GitHubJournal, utcnow


@dataclass(frozen=True)
class Intent:
    """``entries``: path -> the blob SHA the commit gives it (None: the commit deletes it)."""

    id: str
    commit_sha: str
    parent_sha: str | None
    entries: dict[str, str | None]


async def save(session: AsyncSession, intent: Intent) -> None:
    """Record ``intent`` (replacing an earlier one of the same job: a retry on a new head)."""
    row = await session.get(GitHubJournal, intent.id)
    if row is None:
        row = GitHubJournal(id=intent.id)
        session.add(row)
    row.commit_sha = intent.commit_sha
    row.parent_sha = intent.parent_sha
    row.entries = dict(intent.entries)
    row.created_at = utcnow()


async def pending(db: Database) -> list[Intent]:
    """Every journal left, oldest first."""
    async with db.read() as session:
        rows = await session.scalars(select(GitHubJournal).order_by(GitHubJournal.created_at))
        return [Intent(r.id, r.commit_sha, r.parent_sha, dict(r.entries)) for r in rows]


async def remove(session: AsyncSession, intent_id: str) -> None:
    """In the transaction that records (or gives up) the push."""
    await session.execute(delete(GitHubJournal).where(GitHubJournal.id == intent_id))


async def drop(db: Database, intent_id: str) -> None:
    async with db.write() as session:
        await remove(session, intent_id)
