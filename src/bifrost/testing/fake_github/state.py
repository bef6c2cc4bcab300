"""What one running fake holds: repositories, tokens, limits and the fault layer's state."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from bifrost.testing.fake_github.apps import NO_INTEGRATION_ACCESS, Apps, Installation
from bifrost.testing.fake_github.errors import ApiError, not_found
from bifrost.testing.fake_github.faults import Faults
from bifrost.testing.fake_github.repo import GitRepo, Store

GITHUB_TREE_LIMIT = 100_000  # entries in a recursive listing before GitHub truncates it
NO_ACCESS = "Resource not accessible by personal access token"


@dataclass
class Limits:
    max_tree_entries: int = GITHUB_TREE_LIMIT
    max_tree_bytes: int | None = None  # body size of POST /git/trees above which 422 "too large"


@dataclass
class State:
    store: Store
    tokens: dict[str, str]  # token -> login
    scopes: str = "repo, workflow"
    limits: Limits = field(default_factory=Limits)
    faults: Faults = field(default_factory=Faults)
    apps: Apps = field(default_factory=Apps)

    def caller(self, request: Request) -> Caller:
        """Who the request's token belongs to: a user's token or a live installation token
        (401 as GitHub answers otherwise, an expired installation token included)."""
        header = request.headers.get("authorization", "")
        if not header:
            raise ApiError(401, "Requires authentication")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "token"):
            raise ApiError(401, "Bad credentials")
        token = token.strip()
        installation = self.apps.installation_of(token)
        if installation is not None:
            return Caller(installation.app.bot, installation)
        login = self.tokens.get(token)
        if login is None:
            raise ApiError(401, "Bad credentials")
        return Caller(login)

    def login(self, request: Request) -> str:
        """The login of a user's token; an installation token may not use the user endpoints."""
        caller = self.caller(request)
        if caller.installation is not None:
            raise ApiError(403, NO_INTEGRATION_ACCESS)
        return caller.login

    def repo(self, request: Request, *, write: bool = False) -> tuple[GitRepo, str]:
        """The repository of the path and the caller's login; 404 for one the token can't see,
        403 for a write to one it can only read."""
        caller = self.caller(request)
        p = request.path_params
        repo = self.store.get(f"{p['owner']}/{p['repo']}")
        if repo is None or not (caller.can_read(repo) or not repo.meta.private):
            raise not_found()
        if write and not caller.can_push(repo):
            raise ApiError(403, NO_INTEGRATION_ACCESS if caller.installation else NO_ACCESS)
        return repo, caller.login


@dataclass(frozen=True)
class Caller:
    """A user (``installation`` None) or an app's installation, with the app's bot login."""

    login: str
    installation: Installation | None = None

    def can_read(self, repo: GitRepo) -> bool:
        if self.installation is None:
            return can_push(repo, self.login)
        return self.installation.covers(repo.meta.owner, repo.meta.full_name)

    def can_push(self, repo: GitRepo) -> bool:
        if self.installation is None:
            return can_push(repo, self.login)
        return self.can_read(repo) and self.installation.can_write


def can_push(repo: GitRepo, login: str) -> bool:
    """Owners push to their repositories; every token is a member of every organisation."""
    return repo.meta.owner.lower() == login.lower() or repo.meta.owner_type == "Organization"


def state_of(request: Request) -> State:
    return request.app.state.fake
