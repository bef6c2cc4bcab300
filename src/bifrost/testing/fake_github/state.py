"""What one running fake holds: repositories, tokens, limits and the fault layer's state."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

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

    def login(self, request: Request) -> str:
        """The login the request's token belongs to (401 as GitHub answers otherwise)."""
        header = request.headers.get("authorization", "")
        if not header:
            raise ApiError(401, "Requires authentication")
        scheme, _, token = header.partition(" ")
        login = self.tokens.get(token.strip()) if scheme.lower() in ("bearer", "token") else None
        if login is None:
            raise ApiError(401, "Bad credentials")
        return login

    def repo(self, request: Request, *, write: bool = False) -> tuple[GitRepo, str]:
        """The repository of the path and the caller's login; 404 for one the token can't see,
        403 for a write to one it can only read."""
        login = self.login(request)
        p = request.path_params
        repo = self.store.get(f"{p['owner']}/{p['repo']}")
        if repo is None or not (can_push(repo, login) or not repo.meta.private):
            raise not_found()
        if write and not can_push(repo, login):
            raise ApiError(403, NO_ACCESS)
        return repo, login


def can_push(repo: GitRepo, login: str) -> bool:
    """Owners push to their repositories; every token is a member of every organisation."""
    return repo.meta.owner.lower() == login.lower() or repo.meta.owner_type == "Organization"


def state_of(request: Request) -> State:
    return request.app.state.fake
