"""GitHub App authentication: the app's private key signs a short JSON web token (RS256, PyJWT),
which buys an installation token (``ghs_...``, an hour long) for the repositories the app is
installed on. Bifrost keeps only the private key, sealed like a personal token; installation
tokens live in this process's memory, are minted when first needed and again ``margin_s``
before they expire, and never reach the database or a log::

    app = AppCredentials(app_id="123", private_key=pem, installation_id=None)
    async with AppClient.from_settings(settings, app) as gh_app:
        installation = await gh_app.installation("octocat/hello")
    auth = installation_auth(settings, app, installation)   # an httpx.Auth
    async with GitHubClient.from_settings(settings, auth) as gh:
        ...

``InstallationAuth`` is the seam: each request asks :class:`InstallationTokens` for a live
token; a 401 (a token revoked or expired early) mints a new one once and repeats the request.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from bifrost.errors import InvalidInput
from bifrost.github.errors import RepositoryNotFound, TokenRejected
from bifrost.github.transport import Call, Transport, TransportClient, settings_options
from bifrost.secrets import remember
from bifrost.settings import Settings

JWT_LIFETIME_S = 540  # GitHub refuses an exp more than 10 minutes ahead: a minute to spare
JWT_BACKDATE_S = 60  # GitHub's advice: iat a minute back, against clock drift
REFRESH_MARGIN_S = 300.0  # a token with less left than this is replaced before use
MAX_PRIVATE_KEY_CHARS = 16_384  # a 4096-bit PEM is about 3.3 KB
# An app id (digits), or the app's client id (Iv1.0123abcd..., Iv23li...): both work as `iss`.
_APP_ID = re.compile(r"[0-9]{1,20}|Iv[0-9A-Za-z.]{2,40}")


@dataclass(frozen=True)
class AppCredentials:
    """A GitHub App's id and private key (PEM), and the installation to use (None: found
    from the repository); the repr hides the key."""

    app_id: str
    private_key: str = field(repr=False)
    installation_id: int | None = None


@dataclass(frozen=True)
class InstallationToken:
    token: str = field(repr=False)
    expires_at: float  # Unix time, from GitHub's expires_at
    permissions: dict[str, str]
    repository_selection: str | None = None


def check_app_id(app_id: str) -> str:
    if not _APP_ID.fullmatch(app_id):
        raise InvalidInput(
            "app_id must be the GitHub App's numeric id (its settings page, About: App ID) or "
            "its client id (Iv...)"
        )
    return app_id


def check_installation_id(installation_id: int | None) -> int | None:
    if installation_id is not None and not 0 < installation_id < 2**63:
        raise InvalidInput(
            "installation_id must be a positive number (the end of the installation's settings "
            "URL, .../settings/installations/<id>), or left out to find it from the repository"
        )
    return installation_id


def load_key(pem: str) -> RSAPrivateKey:
    """The RSA private key in ``pem``; InvalidInput (never quoting it) otherwise."""
    problem = None
    if len(pem) > MAX_PRIVATE_KEY_CHARS:
        problem = f"is longer than {MAX_PRIVATE_KEY_CHARS} characters"
    elif "PRIVATE KEY-----" not in pem:
        problem = 'is not a PEM private key (it starts with "-----BEGIN RSA PRIVATE KEY-----")'
    else:
        try:
            key = load_pem_private_key(pem.strip().encode(), password=None)
        except (ValueError, TypeError):
            problem = "cannot be read as a PEM private key without a passphrase"
        else:
            if isinstance(key, RSAPrivateKey):
                return key
            problem = "is not an RSA key (GitHub Apps sign with RS256)"
    raise InvalidInput(
        f"that private_key {problem}: paste the whole .pem file GitHub generated for the app "
        "(its settings page, Private keys: Generate a private key)"
    )


def app_jwt(app_id: str, key: RSAPrivateKey, now: float) -> str:
    """A JWT GitHub accepts for the app at ``now``: iat a minute back, exp 9 minutes ahead."""
    claims = {"iat": int(now) - JWT_BACKDATE_S, "exp": int(now) + JWT_LIFETIME_S, "iss": app_id}
    signed = jwt.encode(claims, key, algorithm="RS256")
    remember(signed)  # ten minutes of the app's power: never in a log
    return signed


class AppJWTAuth(httpx.Auth):
    """A fresh JWT for every request of the app itself (signing costs well under 1 ms)."""

    def __init__(self, app: AppCredentials, clock: Callable[[], float] = time.time) -> None:
        self._app_id = app.app_id
        self._key = load_key(app.private_key)  # parsed once: InvalidInput here, not mid-call
        self._clock = clock

    def __repr__(self) -> str:
        return f"AppJWTAuth(app {self._app_id})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        signed = app_jwt(self._app_id, self._key, self._clock())
        request.headers["Authorization"] = f"Bearer {signed}"
        yield request


class AppClient(TransportClient):
    """GitHub's /app endpoints, as the app (its JWT): who it is, where it is installed, and
    installation tokens. Close it (or use ``async with``)."""

    def __init__(
        self,
        api_url: str,
        app: AppCredentials,
        *,
        clock: Callable[[], float] = time.time,
        **options: Any,
    ) -> None:
        self.app = app
        options.setdefault("timeout_s", 30.0)
        options.setdefault("max_retries", 5)
        options.setdefault("max_backoff_s", 120.0)
        options.setdefault("transport", None)
        options.setdefault("sleep", asyncio.sleep)
        self._http = Transport(api_url, AppJWTAuth(app, clock), **options)

    @classmethod
    def from_settings(cls, settings: Settings, app: AppCredentials, **options: Any) -> AppClient:
        return cls(settings.github_api_url, app, **settings_options(settings), **options)

    async def slug(self) -> str:
        """The app's slug: the check that the id and the key go together."""
        call = Call("GET", "/app", "/app")
        return await self._as_app(self._http.fetch(call, lambda r: str(r.json()["slug"])))

    async def installation(self, repository: str) -> int:
        """The id of the app's installation that covers ``repository``."""
        owner, _, name = repository.partition("/")
        call = Call(
            "GET",
            "/installation",
            f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}/installation",
            repository=repository,
        )
        try:
            return await self._as_app(self._http.fetch(call, lambda r: int(r.json()["id"])))
        except RepositoryNotFound:
            raise RepositoryNotFound(
                f"GitHub App {self.app.app_id} is not installed on {repository} (or there is no "
                f"such repository): install the app on its account with access to {repository} "
                "(the app's page, Install App), or give installation_id"
            ) from None

    async def only_installation(self) -> int:
        """The app's installation when it has exactly one: what lists repositories before a
        repository is chosen to find the installation from (``installation``)."""
        call = Call("GET", "/app/installations", "/app/installations", params={"per_page": 100})
        found: list[tuple[int, str]] = await self._as_app(
            self._http.fetch(
                call, lambda r: [(int(i["id"]), str(i["account"]["login"])) for i in r.json()]
            )
        )
        if len(found) == 1:
            return found[0][0]
        if not found:
            raise RepositoryNotFound(
                f"GitHub App {self.app.app_id} is not installed anywhere: install it on the "
                "account that owns the repository (the app's page, Install App)"
            )
        listed = ", ".join(f"{number} ({account})" for number, account in found[:5])
        more = ", …" if len(found) > 5 else ""
        raise InvalidInput(
            f"GitHub App {self.app.app_id} has {len(found)} installations ({listed}{more}): give "
            "installation_id to say which one to list"
        )

    async def mint(self, installation_id: int) -> InstallationToken:
        """A new installation token (GitHub's ``expires_at``: an hour from now)."""
        call = Call(
            "POST",
            "/app/installations/access_tokens",
            f"/app/installations/{installation_id}/access_tokens",
            json={},
            idempotent=True,  # a second token on a retry is harmless: nothing else changes
        )

        def read(response: httpx.Response) -> InstallationToken:
            body = response.json()
            expires = datetime.fromisoformat(str(body["expires_at"]).replace("Z", "+00:00"))
            token = str(body["token"])
            remember(token)
            return InstallationToken(
                token=token,
                expires_at=expires.timestamp(),
                permissions={str(k): str(v) for k, v in (body.get("permissions") or {}).items()},
                repository_selection=body.get("repository_selection"),
            )

        try:
            return await self._as_app(self._http.fetch(call, read))
        except RepositoryNotFound:
            raise RepositoryNotFound(
                f"GitHub App {self.app.app_id} has no installation {installation_id}: check the "
                "id (the end of the installation's settings URL), or leave it out to find the "
                "installation from the repository"
            ) from None

    async def _as_app(self, pending: Awaitable[Any]) -> Any:
        """GitHub's 401 to an app means its id or key: say so, not "the token"."""
        try:
            return await pending
        except TokenRejected as exc:
            said = exc.message.partition("(401 ")[2].partition(")")[0] or "401"
            raise TokenRejected(
                f"GitHub refused the app's credentials ({said}): check app_id "
                f"({self.app.app_id}) and that private_key is a current key of that app (a "
                "deleted key, or one of another app, is refused); generate a new one on the "
                "app's settings page if in doubt"
            ) from None


class InstallationTokens:
    """One installation's token, minted on first use and again once less than ``margin_s`` is
    left of it; a 401 asks for a new one with ``fresh``. Held in memory only."""

    def __init__(
        self,
        mint: Callable[[], Awaitable[InstallationToken]],
        *,
        clock: Callable[[], float] = time.time,
        margin_s: float = REFRESH_MARGIN_S,
    ) -> None:
        self._mint = mint
        self._clock = clock
        self._margin_s = margin_s
        self._current: InstallationToken | None = None
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.minted = 0

    def __repr__(self) -> str:
        return f"InstallationTokens(minted {self.minted})"

    @property
    def current(self) -> InstallationToken | None:
        return self._current

    def keep(self, token: InstallationToken) -> None:
        """Use ``token``, minted elsewhere (configure's check), until it is due for renewal."""
        self._current = token

    def _fresh_enough(self, token: InstallationToken | None) -> bool:
        return token is not None and token.expires_at - self._clock() > self._margin_s

    async def token(self, *, fresh: bool = False, refused: str | None = None) -> str:
        """A live token; ``fresh``: not ``refused`` (the one GitHub just answered 401 to)."""
        async with self._guard():  # concurrent first calls mint once
            current = self._current
            if self._fresh_enough(current) and not (fresh and current.token == refused):
                return current.token
            self._current = await self._mint()
            self.minted += 1
            return self._current.token

    def _guard(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:  # a lock serves one event loop
            self._lock, self._loop = asyncio.Lock(), loop
        return self._lock


class InstallationAuth(httpx.Auth):
    """The httpx seam: every request carries a live installation token."""

    def __init__(self, tokens: InstallationTokens) -> None:
        self.tokens = tokens

    def __repr__(self) -> str:
        return "InstallationAuth(<token hidden>)"

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("installation tokens are minted asynchronously: use httpx.AsyncClient")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.tokens.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == httpx.codes.UNAUTHORIZED:  # revoked, or expired early
            await response.aread()
            renewed = await self.tokens.token(fresh=True, refused=token)
            request.headers["Authorization"] = f"Bearer {renewed}"
            yield request


# One InstallationTokens per (API, app, key, installation) in this process: an operation opens a
# client, and the next one reuses the hour-long token instead of minting again.
_tokens: dict[tuple[str, str, str, int], InstallationTokens] = {}


def installation_tokens(
    settings: Settings, app: AppCredentials, installation_id: int
) -> InstallationTokens:
    fingerprint = hashlib.sha256(app.private_key.encode()).hexdigest()
    key = (settings.github_api_url, app.app_id, fingerprint, installation_id)
    found = _tokens.get(key)
    if found is None:

        async def mint() -> InstallationToken:
            async with AppClient.from_settings(settings, app) as client:
                return await client.mint(installation_id)

        found = _tokens[key] = InstallationTokens(mint)
    return found


def installation_auth(
    settings: Settings, app: AppCredentials, installation_id: int
) -> InstallationAuth:
    return InstallationAuth(installation_tokens(settings, app, installation_id))


def forget_tokens() -> None:
    """Drop every installation token this process holds (disconnect, a new key)."""
    _tokens.clear()
