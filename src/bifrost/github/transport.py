"""Sending one GitHub call: the pooled httpx client, retries of what is safe to repeat, rate-limit
waits, and the counts the benchmarks report. Every httpx error and every unreadable answer becomes
a ``bifrost.github.errors`` error here, and nowhere else.

Retry rules (a 403/429 rate limit means GitHub did nothing, so any call may wait and repeat):
- ``idempotent`` calls (every GET; blob, tree and commit creation, content-addressed) repeat after
  a 5xx or a timeout, with exponential back-off capped at ``max_backoff_s``;
- the others (a new repository, a contents PUT) repeat only when the request never left (the
  connection was refused): after a 5xx or a timeout nobody knows whether GitHub did it;
- a ref write has ``landed``: after a 5xx or a timeout it reads the ref back, and a ref already
  at the commit asked for is a success.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self, TypeVar

import httpx

from bifrost.github.answers import (
    SECONDARY_LIMIT_WAIT_S,
    error_for,
    is_rate_limit,
    malformed,
    rate_limit_wait,
    rate_limited,
    unreachable,
)
from bifrost.github.errors import GitHubError

if TYPE_CHECKING:
    from bifrost.settings import Settings

T = TypeVar("T")

JSON_MEDIA_TYPE = "application/vnd.github+json"
API_VERSION = "2022-11-28"
USER_AGENT = "bifrost-github-sync"
FIRST_BACKOFF_S = 1.0

# A request that never reached GitHub is safe to repeat whatever it asked for.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
# A wrong BIFROST_GITHUB_API_URL: repeating cannot help.
_HOPELESS = (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.TooManyRedirects)


@dataclass(frozen=True)
class Call:
    """One request and how it may be retried; ``route`` names it without owner, repository or
    SHA ("/git/trees"), in the ``calls`` counts and in error messages."""

    method: str
    route: str
    path: str
    repository: str | None = None
    subject: str | None = None  # what a 404 or a moved ref is about: "branch main", "blob 1a2b3c4"
    params: dict[str, str | int] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    idempotent: bool = True
    landed: Callable[[], Awaitable[bool]] | None = None
    ref_update: bool = False  # a 422 "not a fast forward" means the branch moved
    follow_redirects: bool = False

    @property
    def key(self) -> str:
        return f"{self.method} {self.route}"


class BearerToken(httpx.Auth):
    """A personal access token in every request's ``Authorization`` header; its repr hides it."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "BearerToken(<hidden>)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class Transport:
    """One pooled httpx client for one credential (``auth``: a personal token, or an
    ``httpx.Auth`` such as a GitHub App's installation token, ``github.app_auth``); ``calls`` and
    ``writes`` count requests made (each retry and each 304 included)."""

    def __init__(
        self,
        api_url: str,
        auth: str | httpx.Auth,
        *,
        timeout_s: float,
        max_retries: int,
        max_backoff_s: float,
        transport: httpx.AsyncBaseTransport | None,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=api_url.rstrip("/"),
            headers={
                "Accept": JSON_MEDIA_TYPE,
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": USER_AGENT,
            },
            auth=BearerToken(auth) if isinstance(auth, str) else auth,
            timeout=timeout_s,
            transport=transport,
        )
        self._max_retries = max_retries
        self._max_backoff_s = max_backoff_s
        self._sleep = sleep
        self.calls: Counter[str] = Counter()
        self.writes = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    async def fetch(self, call: Call, read: Callable[[httpx.Response], T]) -> T:
        """Send ``call`` and read its answer with ``read`` (for calls without ``landed``)."""
        response = await self.send(call)
        assert response is not None, "only a call with `landed` can succeed without an answer"
        return self.read(call, response, read)

    def read(self, call: Call, response: httpx.Response, read: Callable[[httpx.Response], T]) -> T:
        """``read(response)``, with a body that is not GitHub's JSON as a domain error."""
        try:
            return read(response)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise malformed(call, exc) from exc

    async def send(self, call: Call) -> httpx.Response | None:
        """The answer (2xx or 304), or None when ``call.landed`` confirmed a write whose answer
        was lost. Raises the domain error of the last refusal once retries are spent."""
        attempt = 0
        while True:
            last = attempt >= self._max_retries
            try:
                response = await self._request(call)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                error: GitHubError = unreachable(call, exc)
                if isinstance(exc, _HOPELESS):
                    raise error from exc
                if not isinstance(exc, _NOT_SENT):
                    if await self._took_effect(call):
                        return None
                    if not call.idempotent:
                        raise error from exc
                if last:
                    raise error from exc
                await self._sleep(self._backoff(attempt, FIRST_BACKOFF_S))
            else:
                if response.is_success or response.status_code == httpx.codes.NOT_MODIFIED:
                    return response
                if is_rate_limit(response):
                    wait = rate_limit_wait(response.headers)
                    if wait is None:
                        wait = self._backoff(attempt, SECONDARY_LIMIT_WAIT_S)
                    if last or wait > self._max_backoff_s:
                        raise rate_limited(call, response, waited_too_long=not last)
                    await self._sleep(wait)
                elif response.is_server_error:
                    if await self._took_effect(call):
                        return None
                    if last or not call.idempotent:
                        raise error_for(call, response)
                    await self._sleep(self._backoff(attempt, FIRST_BACKOFF_S))
                else:
                    raise error_for(call, response)
            attempt += 1

    async def _request(self, call: Call) -> httpx.Response:
        self.calls[call.key] += 1
        if call.method != "GET":
            self.writes += 1
        return await self._http.request(
            call.method,
            call.path,
            params=call.params,
            json=call.json,
            headers=call.headers,
            follow_redirects=call.follow_redirects,
        )

    async def _took_effect(self, call: Call) -> bool:
        """The read-back rule; a read-back that fails itself says nothing, so: not known."""
        if call.landed is None:
            return False
        try:
            return await call.landed()
        except GitHubError:
            return False

    def _backoff(self, attempt: int, first_s: float) -> float:
        return min(first_s * 2**attempt, self._max_backoff_s)


def settings_options(settings: Settings) -> dict[str, Any]:
    """The :class:`Transport` options a deployment sets (``BIFROST_GITHUB_*``)."""
    return {
        "timeout_s": settings.github_timeout_s,
        "max_retries": settings.github_max_retries,
        "max_backoff_s": settings.github_max_backoff_s,
    }


class TransportClient:
    """A client over one :class:`Transport` (``_http``): close it, or use ``async with``."""

    _http: Transport

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
