"""The connected workspace's client: what every GitHub operation after ``configure`` starts from.

A personal token goes into every request as it is; a GitHub App connection gets an installation
token per request from ``app_auth.InstallationAuth`` (minted when needed, refreshed before its
hour runs out). Whichever it is, GitHub's refusals leave with every secret cut out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx

from bifrost.errors import Conflict
from bifrost.github.app_auth import AppCredentials, installation_auth
from bifrost.github.client import GitHubClient
from bifrost.github.errors import GitHubError
from bifrost.secrets import SecretBox, redact, scrub
from bifrost.settings import Settings
from bifrost.store import github as connections
from bifrost.store.db import Database
from bifrost.store.github import Connection

NOT_CONNECTED = (
    "the workspace is not connected to GitHub; connect it first "
    "(POST /api/github/configure or `bifrost github connect`)"
)


@contextmanager
def secrets_cut(*values: str | None) -> Iterator[None]:
    """GitHub errors raised inside leave without ``values`` or any secret this process knows."""
    try:
        yield
    except GitHubError as exc:
        exc.message = scrub(redact(exc.message, *values))
        exc.args = (exc.message,)
        raise


@asynccontextmanager
async def client_for(settings: Settings, token: str | httpx.Auth) -> AsyncIterator[GitHubClient]:
    """A client for ``token`` (a personal token, or an ``httpx.Auth`` such as an app's
    installation auth), closed on exit; GitHub's refusals leave with the secrets cut out."""
    with secrets_cut(token if isinstance(token, str) else None):
        async with GitHubClient.from_settings(settings, token) as client:
            yield client


def app_of(connection: Connection) -> AppCredentials | None:
    """The connection's GitHub App credentials; None for a personal-token connection."""
    if connection.app_id is None:
        return None
    return AppCredentials(connection.app_id, connection.private_key, connection.installation_id)


def credential(settings: Settings, connection: Connection) -> str | httpx.Auth:
    """What authenticates the connection's requests: its token, or its app's installation."""
    app = app_of(connection)
    if app is None:
        return connection.token
    assert connection.installation_id is not None, "an app connection names its installation"
    return installation_auth(settings, app, connection.installation_id)


@asynccontextmanager
async def connected(
    settings: Settings, db: Database, box: SecretBox
) -> AsyncIterator[tuple[Connection, GitHubClient]]:
    """The stored connection (Conflict without one) and a client with its credential (opened
    once)."""
    connection = await connections.load(db, box)
    if connection is None:
        raise Conflict(NOT_CONNECTED)
    with secrets_cut(connection.private_key):
        async with client_for(settings, credential(settings, connection)) as client:
            yield connection, client
