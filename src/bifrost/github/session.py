"""The connected workspace's client: what every GitHub operation after ``configure`` starts from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bifrost.errors import Conflict
from bifrost.github.client import GitHubClient
from bifrost.github.errors import GitHubError
from bifrost.secrets import SecretBox, redact
from bifrost.settings import Settings
from bifrost.store import github as connections
from bifrost.store.db import Database
from bifrost.store.github import Connection

NOT_CONNECTED = (
    "the workspace is not connected to GitHub; connect it first "
    "(POST /api/github/configure or `bifrost github connect`)"
)


@asynccontextmanager
async def client_for(settings: Settings, token: str) -> AsyncIterator[GitHubClient]:
    """A client for ``token``, closed on exit; GitHub's refusals leave with the token cut out."""
    try:
        async with GitHubClient.from_settings(settings, token) as client:
            yield client
    except GitHubError as exc:
        exc.message = redact(exc.message, token)
        exc.args = (exc.message,)
        raise


@asynccontextmanager
async def connected(
    settings: Settings, db: Database, box: SecretBox
) -> AsyncIterator[tuple[Connection, GitHubClient]]:
    """The stored connection (Conflict without one) and a client with its token (opened once)."""
    connection = await connections.load(db, box)
    if connection is None:
        raise Conflict(NOT_CONNECTED)
    async with client_for(settings, connection.token) as client:
        yield connection, client
