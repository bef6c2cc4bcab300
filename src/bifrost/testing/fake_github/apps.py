"""GitHub Apps in the fake: apps registered with their public key, installations on an account,
the JSON web tokens an app signs (checked as GitHub checks them) and the installation tokens it
mints with them, which stop working when they expire.

GitHub's rules for the app's JWT (RS256, signed with the app's private key): ``iss`` is the app
id, ``exp`` at most ten minutes ahead, ``iat`` not in the future beyond a minute of clock drift.
An installation token (``ghs_...``) lasts an hour; the control API can shorten that for tests.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from bifrost.testing.fake_github.errors import ApiError

JWT_MAX_LIFETIME_S = 600  # GitHub: exp no more than 10 minutes into the future
CLOCK_DRIFT_S = 60  # what GitHub forgives of an iat in the future
TOKEN_LIFETIME_S = 3600.0
NO_INTEGRATION_ACCESS = "Resource not accessible by integration"
BAD_JWT = "A JSON web token could not be decoded"
DEFAULT_PERMISSIONS = {"contents": "write", "metadata": "read"}


@dataclass
class App:
    id: int
    slug: str
    owner: str
    public_key: RSAPublicKey = field(repr=False)

    @property
    def bot(self) -> str:
        return f"{self.slug}[bot]"


@dataclass
class Installation:
    id: int
    app: App
    account: str
    repositories: list[str] | None  # None: every repository of the account
    permissions: dict[str, str]

    def covers(self, owner: str, full_name: str) -> bool:
        if owner.lower() != self.account.lower():
            return False
        if self.repositories is None:
            return True
        return full_name.lower() in {name.lower() for name in self.repositories}

    @property
    def can_write(self) -> bool:
        return self.permissions.get("contents") == "write"


@dataclass(frozen=True)
class InstallationToken:
    installation: Installation
    expires_at: float


@dataclass
class Apps:
    """Every app, installation and live installation token of one running fake."""

    apps: dict[int, App] = field(default_factory=dict)
    installations: dict[int, Installation] = field(default_factory=dict)
    tokens: dict[str, InstallationToken] = field(default_factory=dict)
    token_lifetime_s: float = TOKEN_LIFETIME_S
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1001))

    def register(self, public_key_pem: str, *, slug: str, owner: str) -> App:
        try:
            key = load_pem_public_key(public_key_pem.encode())
        except ValueError:
            raise ApiError(422, "public_key is not a PEM public key") from None
        if not isinstance(key, RSAPublicKey):
            raise ApiError(422, "public_key must be an RSA public key (GitHub signs RS256)")
        app = App(next(self._ids), slug, owner, key)
        self.apps[app.id] = app
        return app

    def install(
        self,
        app_id: int,
        account: str,
        repositories: list[str] | None,
        permissions: dict[str, str] | None,
    ) -> Installation:
        app = self.apps.get(app_id)
        if app is None:
            raise ApiError(404, f"no app {app_id}")
        installation = Installation(
            next(self._ids), app, account, repositories, permissions or dict(DEFAULT_PERMISSIONS)
        )
        self.installations[installation.id] = installation
        return installation

    def authenticate(self, header: str) -> App:
        """The app whose JWT ``header`` carries, once its signature and times hold (401 as
        GitHub answers otherwise)."""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "Requires authentication")
        try:
            claims = jwt.decode(token.strip(), options={"verify_signature": False})
            app = self.apps.get(int(claims["iss"]))
        except (jwt.PyJWTError, KeyError, TypeError, ValueError):
            raise ApiError(401, BAD_JWT) from None
        if app is None:
            raise ApiError(401, BAD_JWT)
        try:
            claims = jwt.decode(
                token.strip(),
                app.public_key,
                algorithms=["RS256"],
                options={
                    "require": ["iat", "exp", "iss"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError:
            raise ApiError(401, BAD_JWT) from None
        now = time.time()
        iat, exp = claims["iat"], claims["exp"]
        if not isinstance(iat, int) or iat > now + CLOCK_DRIFT_S:
            raise ApiError(
                401,
                "'Issued at' claim ('iat') must be an Integer representing the time that the "
                "assertion was issued",
            )
        if not isinstance(exp, int) or exp <= now:
            raise ApiError(
                401,
                "'Expiration time' claim ('exp') must be a numeric value representing the future "
                "time at which the assertion expires",
            )
        if exp - max(iat, int(now)) > JWT_MAX_LIFETIME_S or exp > now + JWT_MAX_LIFETIME_S + 1:
            raise ApiError(401, "'Expiration time' claim ('exp') is too far in the future")
        return app

    def mint(self, app: App, installation_id: int) -> tuple[str, InstallationToken]:
        installation = self.installations.get(installation_id)
        if installation is None or installation.app.id != app.id:
            raise ApiError(404, "Not Found")
        token = "ghs_" + secrets.token_urlsafe(27).replace("-", "a").replace("_", "b")
        minted = InstallationToken(installation, time.time() + self.token_lifetime_s)
        self.tokens[token] = minted
        return token, minted

    def installation_of(self, token: str) -> Installation | None:
        """The installation a live token belongs to; None for a token this fake never minted.
        An expired token is a 401, as GitHub answers it."""
        minted = self.tokens.get(token)
        if minted is None:
            return None
        if time.time() >= minted.expires_at:
            raise ApiError(401, "Bad credentials")
        return minted.installation

    def installation_for(self, app: App, owner: str, full_name: str) -> Installation:
        for installation in self.installations.values():
            if installation.app.id == app.id and installation.covers(owner, full_name):
                return installation
        raise ApiError(404, "Not Found")


def iso(at: float) -> str:
    return datetime.fromtimestamp(int(at), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
