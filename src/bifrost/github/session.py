"""The connected workspace's client: what every GitHub operation after ``configure`` starts from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bifrost.errors import Conflict
from bifrost.github.client import GitHubClient
from bifrost.secrets import SecretBox
from bifrost.settings import Settings
from bifrost.store import github as connections
from bifrost.store.db import Database
from bifrost.store.github import Connection

NOT_CONNECTED = (
    "the workspace is not connected to GitHub; connect it first "
    "(POST /api/github/configure or `bifrost github connect`)"
)


async def require_connection(db: Database, box: SecretBox) -> Connection:
    connection = await connections.load(db, box)
    if connection is None:
        raise Conflict(NOT_CONNECTED)
    return connection


@asynccontextmanager
async def connected(
    settings: Settings, db: Database, box: SecretBox
) -> AsyncIterator[tuple[Connection, GitHubClient]]:
    """The stored connection and a client with its token, closed on exit."""
    connection = await require_connection(db, box)
    async with GitHubClient.from_settings(settings, connection.token) as client:
        yield connection, client
