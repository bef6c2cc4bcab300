"""Connecting the workspace to GitHub: what the configuration endpoints and `bifrost github
connect` do, checked against GitHub before anything is stored.

``configure`` stores a connection only once GitHub has shown that the repository exists, that
the token may push to it and that the branch exists (or the repository is still empty: the first
sync creates the branch), so a sync never starts from a connection that cannot work. The token
is taken, sealed and used; no answer, message or repr carries it::

    service = GitHubService(settings, db, box)
    await service.configure("octocat/hello", "main", token, user="admin")
    page = await service.commits(page=1, per_page=30)
"""

from __future__ import annotations

import re
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime

from bifrost.errors import InvalidInput
from bifrost.github import session
from bifrost.github.client import GitHubClient
from bifrost.github.errors import AccessDenied, BranchNotFound
from bifrost.github.models import Branch, CommitSummary, Page, Repository, Viewer
from bifrost.secrets import SecretBox
from bifrost.settings import Settings
from bifrost.store import github as connections
from bifrost.store.db import Database
from bifrost.store.github import Connection

# GitHub's own rules: an account is 1-39 letters, digits or inner hyphens; a repository name
# is 1-100 letters, digits, ".", "_" or "-" (but not "." or "..").
_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
# What `git check-ref-format` refuses anywhere in a branch name.
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")
MAX_BRANCH_BYTES = 255
# A token goes into an HTTP header: printable ASCII without spaces, of a sane length.
_TOKEN = re.compile(r"[\x21-\x7e]{1,512}")


@dataclass(frozen=True)
class Configuration:
    """What ``GET /api/github/config`` shows: the connection, never its token."""

    connected: bool
    api_url: str
    repository: str | None = None
    branch: str | None = None
    connected_by: str | None = None
    connected_at: datetime | None = None
    synced_commit: str | None = None
    synced_at: datetime | None = None


def check_repository(full_name: str) -> str:
    """``owner/name`` as GitHub spells repositories, or InvalidInput saying how to write it."""
    owner, slash, name = full_name.partition("/")
    if not slash or not _OWNER.fullmatch(owner) or not _NAME.fullmatch(name) or name in (".", ".."):
        raise InvalidInput(
            "repository must be written owner/name (e.g. octocat/hello-world): an account of "
            "1-39 letters, digits or inner hyphens, a slash, and a name of 1-100 letters, "
            'digits, ".", "_" or "-"'
        )
    return full_name


def check_branch(branch: str) -> str:
    """A branch name git accepts (``git check-ref-format --branch``), or InvalidInput."""
    if branch.startswith("refs/"):
        raise InvalidInput(
            f"write the branch name alone ({branch.removeprefix('refs/heads/')}), not a full ref"
        )
    problem = None
    if not branch or len(branch.encode()) > MAX_BRANCH_BYTES:
        problem = f"must be 1 to {MAX_BRANCH_BYTES} bytes long"
    elif _REF_FORBIDDEN.search(branch):
        problem = 'may not hold spaces, control characters, "..", "//", "@{" or any of ~^:?*[\\'
    elif branch.startswith(("-", "/")) or branch.endswith(("/", ".")) or branch == "@":
        problem = 'may not start with "-" or "/", end with "/" or ".", or be "@"'
    elif any(part.startswith(".") or part.endswith(".lock") for part in branch.split("/")):
        problem = 'may not have a part that starts with "." or ends with ".lock"'
    if problem:
        raise InvalidInput(f"that branch name is not one git accepts: a branch name {problem}")
    return branch


def check_token(token: str) -> str:
    """A token that can go into a header; the message never repeats it."""
    if not _TOKEN.fullmatch(token):
        raise InvalidInput(
            "that is not a GitHub token: a token is printable ASCII with no spaces (a classic "
            "one starts with ghp_, a fine-grained one with github_pat_); paste it again"
        )
    return token


class GitHubService:
    """The workspace's GitHub configuration."""

    def __init__(self, settings: Settings, db: Database, box: SecretBox) -> None:
        self.settings = settings
        self.db = db
        self.box = box

    def __repr__(self) -> str:
        return f"GitHubService({self.settings.github_api_url})"

    async def config(self) -> Configuration:
        return self._config(await connections.load(self.db, None))  # no token needed

    async def validate(self, token: str) -> Viewer:
        """Who the token belongs to; 422 (TokenRejected) when GitHub refuses it. Not stored."""
        async with session.client_for(self.settings, check_token(token)) as client:
            return await client.viewer()

    async def configure(
        self, repository: str, branch: str, token: str | None, user: str | None
    ) -> Configuration:
        """Connect to ``repository`` on ``branch`` (``token`` None: keep the stored one), once
        GitHub shows that this can work; another repository or branch forgets every sync base."""
        check_repository(repository)
        check_branch(branch)
        if token is None:
            stored = await connections.load(self.db, self.box)
            if stored is None:
                raise InvalidInput("give a token: the workspace has no stored one to keep")
            token = stored.token
        async with session.client_for(self.settings, check_token(token)) as client:
            found = await client.repository(repository)
            if not found.can_push:
                raise AccessDenied(
                    f"this token can read {repository} but not push to it: give it Contents: "
                    f"read and write on {repository} (a classic token needs the repo scope), or "
                    "use a token of an account with write access"
                )
            try:
                await client.head(repository, branch)  # None: empty, the first sync makes it
            except BranchNotFound:
                raise BranchNotFound(
                    f"{repository} has no branch {branch!r}: pick an existing one "
                    f"(GET /api/github/branches?repository={repository}; the default is "
                    f"{found.default_branch or 'not set'}), or create it first, on GitHub's "
                    f"branch page or with `git push origin HEAD:{branch}`"
                ) from None
        connection = await connections.save(  # GitHub's spelling: names ignore case there
            self.db, self.box, repository=found.full_name, branch=branch, token=token, user=user
        )
        return self._config(connection)

    async def repositories(self, *, page: int = 1, per_page: int = 50) -> Page[Repository]:
        """The repositories the stored token can see, most recently updated first."""
        async with self._connected() as (_, client):
            return await client.repositories(page=page, per_page=per_page)

    async def branches(self, repository: str, *, page: int = 1) -> Page[Branch]:
        check_repository(repository)
        async with self._connected() as (_, client):
            return await client.branches(repository, page=page)

    async def create_repository(
        self,
        name: str,
        *,
        private: bool = True,
        description: str | None = None,
        token: str | None = None,
    ) -> Repository:
        """An empty repository of the token's account (connect to it to make its first commit).
        ``token``: a token not stored yet, so a first connection can start by creating its
        repository; None: the stored one."""
        if not _NAME.fullmatch(name) or name in (".", ".."):
            raise InvalidInput(
                'a repository name is 1-100 letters, digits, ".", "_" or "-" (not "." or "..")'
            )
        if token is not None:
            async with session.client_for(self.settings, check_token(token)) as client:
                return await client.create_repository(
                    name, private=private, description=description or ""
                )
        async with self._connected() as (_, client):
            return await client.create_repository(
                name, private=private, description=description or ""
            )

    async def disconnect(self) -> Configuration:
        """Forget the connection and every sync base; disconnecting twice is no error."""
        await connections.disconnect(self.db)
        return self._config(None)

    async def commits(self, *, page: int = 1, per_page: int = 30) -> Page[CommitSummary]:
        """The connected branch's history, newest first (none in an empty repository)."""
        async with self._connected() as (connection, client):
            return await client.commits(
                connection.repository, connection.branch, page=page, per_page=per_page
            )

    # --- helpers -------------------------------------------------------------------------------

    def _config(self, connection: Connection | None) -> Configuration:
        if connection is None:
            return Configuration(connected=False, api_url=self.settings.github_api_url)
        return Configuration(
            connected=True,
            api_url=self.settings.github_api_url,
            repository=connection.repository,
            branch=connection.branch,
            connected_by=connection.connected_by,
            connected_at=connection.connected_at,
            synced_commit=connection.synced_commit,
            synced_at=connection.synced_at,
        )

    def _connected(self) -> AbstractAsyncContextManager[tuple[Connection, GitHubClient]]:
        """The stored connection (409 without one) and a client with its token."""
        return session.connected(self.settings, self.db, self.box)
