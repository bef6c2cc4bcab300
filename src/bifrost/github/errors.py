"""What GitHub's answers mean, as domain errors (``bifrost.errors``), so the API maps them like
any other and the CLI prints them as they are.

The client translates every GitHub status and every httpx error into one of these in one place;
no message ever holds the token::

    GitHubError                  base (with a domain parent each, for the HTTP status)
    ├── TokenRejected            401: wrong, expired or revoked token          (InvalidInput)
    ├── AccessDenied             403 that is not a rate limit: missing permission (InvalidInput)
    ├── RepositoryNotFound       404 on the repository (or the token cannot see it) (NotFound)
    ├── BranchNotFound           404 on the branch of an existing repository   (NotFound)
    ├── EmptyRepository          409: the repository has no commit yet          (Conflict)
    ├── NotFastForward           422 on a ref update: the branch moved          (Conflict)
    ├── Unprocessable            422 otherwise: GitHub refused the request      (InvalidInput)
    ├── RateLimited              403/429 still limited after every retry        (Unavailable)
    ├── GitHubUnavailable        5xx, timeouts, refused connections             (Unavailable)
    └── CorruptContent           bytes that do not hash to the SHA asked for    (Inconsistent)
"""

from __future__ import annotations

from bifrost.errors import BifrostError, Conflict, Inconsistent, InvalidInput, NotFound, Unavailable


class GitHubError(BifrostError):
    """Base of what GitHub (or the way to it) answered."""


class TokenRejected(GitHubError, InvalidInput):
    pass


class AccessDenied(GitHubError, InvalidInput):
    pass


class RepositoryNotFound(GitHubError, NotFound):
    pass


class BranchNotFound(GitHubError, NotFound):
    pass


class EmptyRepository(GitHubError, Conflict):
    pass


class NotFastForward(GitHubError, Conflict):
    pass


class Unprocessable(GitHubError, InvalidInput):
    """``github_message`` is GitHub's own text (with its error details), for callers that act on
    one refusal: a tree call "too large" is split, anything else is reported as it is."""

    def __init__(self, message: str, *, github_message: str = "") -> None:
        super().__init__(message)
        self.github_message = github_message


class RateLimited(GitHubError, Unavailable):
    pass


class GitHubUnavailable(GitHubError, Unavailable):
    pass


class CorruptContent(GitHubError, Inconsistent):
    pass
