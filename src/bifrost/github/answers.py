"""What GitHub's answers mean: a refusal as the domain error that says what to do, and how long a
rate limit asks us to wait. Pure functions of the answer; the transport decides what to do next.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx

from bifrost.github.errors import (
    AccessDenied,
    EmptyRepository,
    GitHubError,
    GitHubUnavailable,
    NotFastForward,
    RateLimited,
    RepositoryNotFound,
    TokenRejected,
    Unprocessable,
)

if TYPE_CHECKING:
    from bifrost.github.transport import Call

SECONDARY_LIMIT_WAIT_S = 60.0
"""GitHub asks for at least a minute when a secondary limit names no time to wait."""


def github_message(response: httpx.Response) -> str:
    """GitHub's ``message`` with the details of its ``errors`` list, or the reason phrase."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if not isinstance(body, dict):
        return response.reason_phrase
    message = str(body.get("message") or response.reason_phrase)
    details = [
        str(item.get("message") or item.get("code"))
        for item in body.get("errors") or []
        if isinstance(item, dict) and (item.get("message") or item.get("code"))
    ]
    return f"{message}: {'; '.join(details)}" if details else message


def is_rate_limit(response: httpx.Response) -> bool:
    """429 always; 403 only with GitHub's rate-limit signs (otherwise it is a permission)."""
    if response.status_code == 429:
        return True
    if response.status_code != 403:
        return False
    headers = response.headers
    return (
        "retry-after" in headers
        or headers.get("x-ratelimit-remaining") == "0"
        or "rate limit" in github_message(response).lower()
    )


def rate_limit_wait(headers: httpx.Headers) -> float | None:
    """Seconds GitHub asks us to wait, in its documented order: ``retry-after``, then the reset of
    a used-up primary limit. None when it names no time (the caller backs off)."""
    retry_after = _number(headers.get("retry-after"))
    if retry_after is not None:
        return max(retry_after, 0.0)
    reset = _reset(headers)
    if reset is not None:
        # The reset is whole epoch seconds: one more second so we never arrive just before it.
        return max(reset - time.time(), 0.0) + 1.0
    return None


def rate_limited(call: Call, response: httpx.Response, *, waited_too_long: bool) -> RateLimited:
    reset = _reset(response.headers)
    if reset is not None:
        at = time.strftime("%H:%M:%S UTC", time.gmtime(reset))
        when = f"it resets at {at}: try again then"
    else:
        when = "try again in a few minutes"
    why = (
        "asks for a longer wait than BIFROST_GITHUB_MAX_BACKOFF_S"
        if waited_too_long
        else "was still reached after every retry"
    )
    return RateLimited(
        f"GitHub's rate limit for this token {why} ({call.key}{_on(call)}: "
        f"{github_message(response)}); {when}"
    )


def error_for(call: Call, response: httpx.Response) -> GitHubError:
    """The domain error for a refusal that is not a rate limit."""
    status = response.status_code
    said = github_message(response)
    repository = call.repository or "the repository"
    if status == 401:
        return TokenRejected(
            f"GitHub rejected the token (401 {said}): it is wrong, expired or revoked; "
            "create a new one and connect again"
        )
    if status == 403:
        return AccessDenied(
            f"GitHub refused {call.key}{_on(call)} (403 {said}): give the token Contents: read "
            f"and write on {repository} (a classic token needs the repo scope; files under "
            ".github/workflows also need Workflows)"
        )
    if status == 404:
        thing = f"{call.subject} in {repository}" if call.subject else f"repository {repository}"
        return RepositoryNotFound(
            f"GitHub found no {thing} that this token can see (404 on {call.key}): check the "
            f"name, and that the token has access to {repository}"
        )
    if status == 409 and "empty" in said.lower():
        return EmptyRepository(
            f"{repository} is empty: it has no commit yet (GitHub: {said}); the first sync "
            "creates one"
        )
    if status == 409 or (status == 422 and call.ref_update and "fast forward" in said.lower()):
        return NotFastForward(
            f"{call.subject or repository} of {repository} changed since it was read "
            f"({status} on {call.key}: {said}); preview again"
        )
    if 400 <= status < 500:
        return Unprocessable(
            f"GitHub refused {call.key}{_on(call)} ({status}: {said})", github_message=said
        )
    if status >= 500:
        return GitHubUnavailable(
            f"GitHub answered {status} to {call.key}{_on(call)} ({said}); {_after(call)}"
        )
    return GitHubUnavailable(
        f"GitHub answered {status} to {call.key}{_on(call)}, which its REST API never does: "
        "check that BIFROST_GITHUB_API_URL is GitHub's API (https://api.github.com, or "
        "https://host/api/v3 for GitHub Enterprise Server)"
    )


def unreachable(call: Call, exc: Exception) -> GitHubUnavailable:
    """An httpx failure: no answer at all, or one that could not be read."""
    return GitHubUnavailable(
        f"GitHub did not answer {call.key}{_on(call)} ({type(exc).__name__}: {exc}); check "
        f"BIFROST_GITHUB_API_URL and the network, then {_after(call)}"
    )


def malformed(call: Call, exc: Exception) -> GitHubUnavailable:
    """A success whose body is not what the REST API sends (an HTML page from a proxy...)."""
    return GitHubUnavailable(
        f"GitHub's answer to {call.key}{_on(call)} is not what its REST API sends "
        f"({type(exc).__name__}: {exc}): check that BIFROST_GITHUB_API_URL is GitHub's API "
        "(https://api.github.com, or https://host/api/v3 for GitHub Enterprise Server)"
    )


def _on(call: Call) -> str:
    return f" on {call.repository}" if call.repository else ""


def _after(call: Call) -> str:
    if call.idempotent:
        return "try again later"
    return "it may have been done anyway: look on GitHub before trying again"


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _reset(headers: httpx.Headers) -> float | None:
    if headers.get("x-ratelimit-remaining") != "0":
        return None
    return _number(headers.get("x-ratelimit-reset"))
