"""The workspace's GitHub connection: repository, branch, the sealed credential, the last synced
commit.

There is one connection (row id 1). The credential is a personal token or, for a GitHub App, the
app's private key (with its app id and installation id); it is sealed (``bifrost.secrets``)
before it reaches the database and opened only into a :class:`Connection`, whose repr hides it.
Pointing the workspace at another repository or branch, or disconnecting, forgets every base
SHA, the last remote tree and any push journal in the same transaction: bases of one branch mean
nothing on another, and a stale base would turn the next sync's pulls into pushes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from bifrost.secrets import SecretBox
from bifrost.store.db import Database
from bifrost.store.models import (
    GitHubConnection,
    GitHubJournal,
    GitHubRemote,
    WorkspaceFile,
    utcnow,
)

CONNECTION_ID = 1


@dataclass(frozen=True)
class Connection:
    repository: str  # owner/name
    branch: str
    token: str = field(repr=False)  # the personal token; "" for an app
    connected_by: str | None = None
    connected_at: datetime | None = None
    synced_commit: str | None = None  # None: never synced
    synced_at: datetime | None = None
    app_id: str | None = None  # set: a GitHub App connection
    installation_id: int | None = None
    private_key: str = field(default="", repr=False)  # the app's PEM

    @property
    def auth(self) -> str:
        """ "app" (GitHub App) or "token" (a personal access token)."""
        return APP if self.app_id is not None else TOKEN


TOKEN, APP = "token", "app"


async def load(db: Database, box: SecretBox | None) -> Connection | None:
    """The connection; with ``box`` None its credential stays sealed (``token`` and
    ``private_key`` are empty), for showing the configuration without paying the KDF or needing
    the key."""
    async with db.read() as session:
        row = await session.get(GitHubConnection, CONNECTION_ID)
    if row is None:
        return None
    return _connection(row, box.open(row.token_ciphertext) if box is not None else "")


def _connection(row: GitHubConnection, secret: str) -> Connection:
    app = row.auth == APP
    return Connection(
        repository=row.repository,
        branch=row.branch,
        token="" if app else secret,
        connected_by=row.connected_by,
        connected_at=row.connected_at,
        synced_commit=row.synced_commit,
        synced_at=row.synced_at,
        app_id=row.app_id if app else None,
        installation_id=row.installation_id if app else None,
        private_key=secret if app else "",
    )


async def save(
    db: Database,
    box: SecretBox,
    *,
    repository: str,
    branch: str,
    user: str | None,
    token: str | None = None,
    app_id: str | None = None,
    private_key: str | None = None,
    installation_id: int | None = None,
) -> Connection:
    """Connect (or reconnect) the workspace with a personal ``token``, or as the GitHub App
    ``app_id`` (its ``private_key`` and ``installation_id``); another repository or branch starts
    from no base."""
    app = app_id is not None
    secret = private_key if app else token
    if not secret or (app and installation_id is None):
        raise ValueError("give a token, or an app id with its private key and installation id")
    sealed = box.seal(secret)
    async with db.write() as session:
        row = await session.get(GitHubConnection, CONNECTION_ID)
        moved = row is None or (row.repository, row.branch) != (repository, branch)
        if moved:  # before a new row is added: its flush would come first, half filled
            await forget_sync_state(session)
        if row is None:
            row = GitHubConnection(id=CONNECTION_ID)
            session.add(row)
        if moved:
            row.synced_commit = None
            row.synced_at = None
        row.repository = repository
        row.branch = branch
        row.token_ciphertext = sealed
        row.auth = APP if app else TOKEN
        row.app_id = app_id
        row.installation_id = installation_id
        row.connected_by = user
        row.connected_at = utcnow()
        return _connection(row, secret)  # the secret in hand: no second read, no second KDF


async def disconnect(db: Database) -> bool:
    """Forget the connection and every sync base; False when there was none."""
    async with db.write() as session:
        row = await session.get(GitHubConnection, CONNECTION_ID)
        if row is None:
            return False
        await session.delete(row)
        await forget_sync_state(session)
    return True


async def forget_sync_state(session: AsyncSession) -> None:
    """Every base SHA, the remote snapshot and push journals: what ties us to one branch."""
    await session.execute(
        update(WorkspaceFile).where(WorkspaceFile.github_sha.is_not(None)).values(github_sha=None)
    )
    await session.execute(delete(GitHubRemote))
    await session.execute(delete(GitHubJournal))


async def record_synced(session: AsyncSession, commit_sha: str) -> None:
    """In the transaction that applies a sync: the branch commit the workspace now matches."""
    await session.execute(
        update(GitHubConnection)
        .where(GitHubConnection.id == CONNECTION_ID)
        .values(synced_commit=commit_sha, synced_at=utcnow())
    )
