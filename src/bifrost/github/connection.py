"""Connecting the workspace to GitHub: what the configuration endpoints and `bifrost github
connect` do, checked against GitHub before anything is stored.

``configure`` stores a connection only once GitHub has shown that the repository exists, that
the credential may push to it and that the branch exists (or the repository is still empty: the
first sync creates the branch), so a sync never starts from a connection that cannot work. The
credential is a personal token, or a GitHub App (app id, private key, and the installation,
found from the repository when not given: ``github.app_auth``). It is taken, sealed and used; no
answer, message or repr carries it::

    service = GitHubService(settings, db, box)
    await service.configure("octocat/hello", "main", token, user="admin")
    await service.configure("octocat/hello", "main", None, "admin", app=AppCredentials(...))
    page = await service.commits(page=1, per_page=30)
    page = await service.repositories(token=token)   # before connecting: not stored
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from bifrost.errors import InvalidInput
from bifrost.github import session
from bifrost.github.app_auth import (
    AppClient,
    AppCredentials,
    check_app_id,
    check_installation_id,
    forget_tokens,
    installation_auth,
    installation_tokens,
    load_key,
)
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
NOT_BOTH = "give either a token or a GitHub App (app_id, private_key), not both"


@dataclass(frozen=True)
class Configuration:
    """What ``GET /api/github/config`` shows: the connection, never its token."""

    connected: bool
    api_url: str
    auth: str | None = None  # "token" or "app"
    app_id: str | None = None
    installation_id: int | None = None
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

    async def validate(self, token: str | None, *, app: AppCredentials | None = None) -> Viewer:
        """Who the token belongs to (an app: its bot, ``slug[bot]``); 422 (TokenRejected) when
        GitHub refuses it. Not stored."""
        if app is not None:
            app = _checked(app)
            with session.secrets_cut():
                async with AppClient.from_settings(self.settings, app) as client:
                    return Viewer(login=f"{await client.slug()}[bot]", scopes=None)
        if token is None:
            raise InvalidInput("give a token, or an app_id and private_key")
        async with session.client_for(self.settings, check_token(token)) as client:
            return await client.viewer()

    async def configure(
        self,
        repository: str,
        branch: str,
        token: str | None,
        user: str | None,
        *,
        app: AppCredentials | None = None,
    ) -> Configuration:
        """Connect to ``repository`` on ``branch`` with a personal ``token`` or as a GitHub
        ``app`` (neither: keep the stored credential), once GitHub shows that this can work;
        another repository or branch forgets every sync base."""
        check_repository(repository)
        check_branch(branch)
        if token is not None and app is not None:
            raise InvalidInput(NOT_BOTH)
        if token is None and app is None:
            stored = await connections.load(self.db, self.box)
            if stored is None:
                raise InvalidInput(
                    "give a token, or a GitHub App's app_id and private_key: the workspace has "
                    "no stored credential to keep"
                )
            token, app = stored.token or None, session.app_of(stored)
            if app is not None and stored.repository.lower() != repository.lower():
                app = AppCredentials(app.app_id, app.private_key)  # another installation, maybe
        if app is not None:
            connection = await self._configure_app(repository, branch, _checked(app), user)
            return self._config(connection)
        assert token is not None
        async with session.client_for(self.settings, check_token(token)) as client:
            found = await client.repository(repository)
            if not found.can_push:
                raise AccessDenied(
                    f"this token can read {repository} but not push to it: give it Contents: "
                    f"read and write on {repository} (a classic token needs the repo scope), or "
                    "use a token of an account with write access"
                )
            await self._check_branch(client, found, branch)
        connection = await connections.save(  # GitHub's spelling: names ignore case there
            self.db, self.box, repository=found.full_name, branch=branch, token=token, user=user
        )
        return self._config(connection)

    async def _configure_app(
        self, repository: str, branch: str, app: AppCredentials, user: str | None
    ) -> Connection:
        """The app's installation on ``repository`` (found when not given), a first token that
        may write contents, then the same repository and branch checks as a token's."""
        with session.secrets_cut():
            async with AppClient.from_settings(self.settings, app) as app_client:
                installation_id = app.installation_id or await app_client.installation(repository)
                minted = await app_client.mint(installation_id)
        if minted.permissions.get("contents") != "write":
            raise AccessDenied(
                f"GitHub App {app.app_id} may not write the contents of {repository} (its "
                f"installation has contents: {minted.permissions.get('contents', 'none')}): give "
                "the app Contents: Read and write (its settings page, Permissions), then accept "
                "the new permissions on the installation"
            )
        tokens = installation_tokens(self.settings, app, installation_id)
        tokens.keep(minted)  # the token just minted serves the checks and the first sync
        async with session.client_for(
            self.settings, installation_auth(self.settings, app, installation_id)
        ) as client:
            found = await client.repository(repository)  # 404: not in this installation
            await self._check_branch(client, found, branch)
        return await connections.save(
            self.db,
            self.box,
            repository=found.full_name,
            branch=branch,
            user=user,
            app_id=app.app_id,
            private_key=app.private_key,
            installation_id=installation_id,
        )

    async def _check_branch(self, client: GitHubClient, found: Repository, branch: str) -> None:
        try:
            await client.head(found.full_name, branch)  # None: empty, the first sync makes it
        except BranchNotFound:
            repository = found.full_name
            raise BranchNotFound(
                f"{repository} has no branch {branch!r}: pick an existing one "
                f"(GET /api/github/branches?repository={repository}; the default is "
                f"{found.default_branch or 'not set'}), or create it first, on GitHub's "
                f"branch page or with `git push origin HEAD:{branch}`"
            ) from None

    async def repositories(
        self,
        *,
        page: int = 1,
        per_page: int = 50,
        token: str | None = None,
        app: AppCredentials | None = None,
    ) -> Page[Repository]:
        """The repositories the credential can see, most recently updated first (an app: the
        repositories of its installation, by name). ``token`` or ``app``: a credential not
        stored yet, so a first connection can pick from a list; neither: the stored one."""
        async with self._client(token, app) as (as_app, client):
            if as_app:
                return await client.installation_repositories(page=page, per_page=per_page)
            return await client.repositories(page=page, per_page=per_page)

    async def branches(
        self,
        repository: str,
        *,
        page: int = 1,
        token: str | None = None,
        app: AppCredentials | None = None,
    ) -> Page[Branch]:
        """``repository``'s branches, with a credential not stored yet or the stored one."""
        check_repository(repository)
        async with self._client(token, app, repository) as (_, client):
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
        async with self._client(token, None) as (as_app, client):
            if as_app:
                raise InvalidInput(
                    "a GitHub App cannot create repositories for a person: create the "
                    "repository on GitHub, install the app on it, then connect to it"
                )
            return await client.create_repository(
                name, private=private, description=description or ""
            )

    async def disconnect(self) -> Configuration:
        """Forget the connection and every sync base; disconnecting twice is no error."""
        await connections.disconnect(self.db)
        forget_tokens()  # installation tokens this process still holds
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
            auth=connection.auth,
            app_id=connection.app_id,
            installation_id=connection.installation_id,
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

    @asynccontextmanager
    async def _client(
        self, token: str | None, app: AppCredentials | None, repository: str | None = None
    ) -> AsyncIterator[tuple[bool, GitHubClient]]:
        """A client for the credential given, used for this call only (an app's installation:
        the one given, else the one on ``repository``, else its only one), or for the stored
        connection's when neither is given (409 without one); and whether it acts as an app."""
        if token is not None and app is not None:
            raise InvalidInput(NOT_BOTH)
        if token is not None:
            async with session.client_for(self.settings, check_token(token)) as client:
                yield False, client
        elif app is not None:
            app = _checked(app)
            with session.secrets_cut(app.private_key):
                installation_id = app.installation_id
                if installation_id is None:
                    async with AppClient.from_settings(self.settings, app) as app_client:
                        installation_id = await (
                            app_client.installation(repository)
                            if repository
                            else app_client.only_installation()
                        )
                auth = installation_auth(self.settings, app, installation_id)
                async with session.client_for(self.settings, auth) as client:
                    yield True, client
        else:
            async with self._connected() as (connection, client):
                yield connection.auth == connections.APP, client


def _checked(app: AppCredentials) -> AppCredentials:
    """The app's id, installation and key as GitHub could take them, or InvalidInput."""
    check_app_id(app.app_id)
    check_installation_id(app.installation_id)
    load_key(app.private_key)
    return app
