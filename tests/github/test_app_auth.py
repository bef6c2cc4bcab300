"""GitHub App authentication against the fake GitHub: the JWT rules it enforces, installation
tokens minted, refreshed before they expire and refused after, a bad key refused with a 4xx that
says what to fix, and a full sync as an app with no secret in any answer, log or table."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bifrost.github.app_auth import (
    REFRESH_MARGIN_S,
    AppClient,
    AppCredentials,
    InstallationAuth,
    InstallationTokens,
)
from bifrost.github.client import GitHubClient
from bifrost.github.errors import RepositoryNotFound, TokenRejected
from bifrost.secrets import REDACTED, scrub
from bifrost.testing.fake_github.control import FakeGitHub
from tests.github.conftest import FAKE_LOGIN
from tests.github.sync_helpers import put, start, wait
from tests.github.test_cli_github import bifrost, ok
from tests.security.test_github_secrets import database_text
from tests.serving import Cluster


def _pem(key: rsa.RSAPrivateKey) -> tuple[str, str]:
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="session")
def app_key() -> tuple[str, str]:
    """(private PEM, public PEM) of the test app."""
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="session")
def other_key() -> str:
    """A private key GitHub never saw."""
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))[0]


@pytest.fixture
def app_id(fake_github: FakeGitHub, app_key: tuple[str, str]) -> Iterator[int]:
    yield fake_github.register_app(app_key[1], slug=f"sync-{uuid.uuid4().hex[:6]}")
    fake_github.configure(installation_token_lifetime_s=3600)


@pytest.fixture
def installation(fake_github: FakeGitHub, app_id: int, github_repo: str) -> int:
    return fake_github.install_app(app_id, FAKE_LOGIN, repositories=[github_repo])


def _app(app_id: int, app_key: tuple[str, str], installation: int | None = None) -> AppCredentials:
    return AppCredentials(str(app_id), app_key[0], installation)


def _jwt(private: str, app_id: int, *, iat: float, exp: float, alg: str = "RS256") -> str:
    return jwt.encode({"iat": int(iat), "exp": int(exp), "iss": str(app_id)}, private, alg)


def _status(fake: FakeGitHub, token: str, path: str = "/app") -> tuple[int, str]:
    response = httpx.get(f"{fake.url}{path}", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json().get("message", "")


# --- what the fake enforces ------------------------------------------------------------------


def test_the_fake_checks_the_jwt_as_github_does(
    fake_github: FakeGitHub, app_id: int, app_key: tuple[str, str], other_key: str
) -> None:
    private = app_key[0]
    now = time.time()
    assert _status(fake_github, _jwt(private, app_id, iat=now - 60, exp=now + 540))[0] == 200
    too_long = _status(fake_github, _jwt(private, app_id, iat=now, exp=now + 1200))
    assert too_long == (401, "'Expiration time' claim ('exp') is too far in the future")
    future = _status(fake_github, _jwt(private, app_id, iat=now + 300, exp=now + 500))
    assert future[0] == 401 and "'Issued at' claim" in future[1]
    expired = _status(fake_github, _jwt(private, app_id, iat=now - 700, exp=now - 100))
    assert expired[0] == 401 and "'Expiration time' claim" in expired[1]
    forged = _status(fake_github, _jwt(other_key, app_id, iat=now - 60, exp=now + 540))
    assert forged == (401, "A JSON web token could not be decoded")
    hmac = _status(
        fake_github,
        _jwt(
            "a shared secret of 32 bytes or more!", app_id, iat=now - 60, exp=now + 540, alg="HS256"
        ),
    )
    assert hmac == (401, "A JSON web token could not be decoded")
    # a JWT is no token for the repository endpoints, nor a user token for the app's
    assert _status(fake_github, fake_github.token)[0] == 401


# --- minting and refreshing ----------------------------------------------------------------


async def test_an_installation_token_is_minted_and_used(
    fake_github: FakeGitHub, app_id: int, app_key: tuple[str, str], installation: int, github_repo
) -> None:
    app = _app(app_id, app_key)
    async with AppClient(fake_github.url, app, max_retries=0) as client:
        assert await client.installation(github_repo) == installation
        assert await client.only_installation() == installation  # GET /app/installations
        minted = await client.mint(installation)
        with pytest.raises(RepositoryNotFound, match="not installed on"):
            await client.installation(f"{FAKE_LOGIN}/not-there-{uuid.uuid4().hex[:6]}")
    assert minted.token.startswith("ghs_")
    assert minted.permissions["contents"] == "write"
    assert scrub(f"sent {minted.token}") == f"sent {REDACTED}"
    async with GitHubClient(fake_github.url, minted.token, max_retries=0) as gh:
        repository = await gh.repository(github_repo)
    assert repository.full_name == github_repo
    seen = httpx.get(
        f"{fake_github.url}/installation/repositories",
        headers={"Authorization": f"Bearer {minted.token}"},
    ).json()
    assert (seen["total_count"], seen["repository_selection"]) == (1, "selected")
    assert [r["full_name"] for r in seen["repositories"]] == [github_repo]
    # personal-token endpoints refuse an installation token, as GitHub does
    assert _status(fake_github, minted.token, "/user") == (
        403,
        "Resource not accessible by integration",
    )


async def test_the_token_is_refreshed_before_its_hour_runs_out(
    fake_github: FakeGitHub, app_id: int, app_key: tuple[str, str], installation: int, github_repo
) -> None:
    """The fake's tokens last the margin plus 30 s here; the client's clock is moved on by 40 s
    (no waiting): the next request mints a new token before the old one has expired."""
    fake_github.configure(installation_token_lifetime_s=REFRESH_MARGIN_S + 30)
    app = _app(app_id, app_key)
    ahead = {"s": 0.0}

    async def mint():
        async with AppClient(fake_github.url, app, max_retries=0) as client:
            return await client.mint(installation)

    tokens = InstallationTokens(mint, clock=lambda: time.time() + ahead["s"])
    async with GitHubClient(fake_github.url, InstallationAuth(tokens), max_retries=0) as gh:
        await gh.repository(github_repo)
        await gh.branches(github_repo)
        first = tokens.current
        assert tokens.minted == 1  # one token for both calls
        ahead["s"] = 40.0
        await gh.repository(github_repo)
        assert tokens.minted == 2 and tokens.current.token != first.token
    # the first one had not expired yet: it was replaced early, not after a refusal
    assert _status(fake_github, first.token, f"/repos/{github_repo}")[0] == 200


async def test_an_expired_token_stops_working_and_the_client_mints_another(
    fake_github: FakeGitHub, app_id: int, app_key: tuple[str, str], installation: int, github_repo
) -> None:
    fake_github.configure(installation_token_lifetime_s=0.5)
    app = _app(app_id, app_key)

    async def mint():
        async with AppClient(fake_github.url, app, max_retries=0) as client:
            return await client.mint(installation)

    # margin 0: the client keeps a token to its last moment, so GitHub's refusal is what it sees
    tokens = InstallationTokens(mint, margin_s=-3600)
    async with GitHubClient(fake_github.url, InstallationAuth(tokens), max_retries=0) as gh:
        await gh.repository(github_repo)
        stale = tokens.current.token
        deadline = time.monotonic() + 10
        while _status(fake_github, stale, f"/repos/{github_repo}")[0] != 401:
            assert time.monotonic() < deadline, "the fake's token never expired"
            time.sleep(0.1)
        fake_github.configure(installation_token_lifetime_s=3600)
        await gh.repository(github_repo)  # 401, a new token, the same request again
    assert tokens.minted == 2 and tokens.current.token != stale


async def test_a_bad_key_is_refused_before_anything_is_sent(
    fake_github: FakeGitHub, app_id: int, other_key: str
) -> None:
    with pytest.raises(TokenRejected, match="app's credentials") as refused:
        async with AppClient(fake_github.url, AppCredentials(str(app_id), other_key)) as client:
            await client.slug()
    assert other_key.splitlines()[1] not in str(refused.value)


# --- through the API -------------------------------------------------------------------------


@pytest.fixture
def cluster_env(fake_github: FakeGitHub, backend) -> dict[str, str]:
    return {"BIFROST_GITHUB_API_URL": fake_github.url, "BIFROST_GITHUB_MAX_RETRIES": "0"}


def test_configure_refuses_bad_apps_with_a_4xx_that_says_what_to_fix(
    cluster: Cluster,
    fake_github: FakeGitHub,
    app_id: int,
    app_key: tuple[str, str],
    other_key: str,
    github_repo: str,
) -> None:
    base = {"repository": github_repo, "branch": "main", "app_id": app_id}
    private = app_key[0]
    ec_key = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with cluster.client() as api:
        cases = [
            ({**base, "private_key": "not a key"}, 422, "-----BEGIN RSA PRIVATE KEY-----"),
            ({**base, "private_key": ec_key}, 422, "not an RSA key"),
            ({**base, "private_key": other_key}, 422, "GitHub refused the app's credentials"),
            ({**base, "private_key": private}, 404, "is not installed on"),  # not installed yet
            ({**base, "private_key": private, "token": fake_github.token}, 422, "not both"),
            ({**base}, 422, "needs both app_id and private_key"),
            ({**base, "private_key": private, "app_id": "12x"}, 422, "numeric id"),
        ]
        for body, status, said in cases:
            answer = api.post("/api/github/configure", json=body)
            assert answer.status_code == status, (body.get("private_key", "")[:20], answer.text)
            assert said in answer.text, answer.text
            assert private.splitlines()[1] not in answer.text
        # the listings before connecting refuse the same way
        unstored = {"app_id": app_id, "private_key": private}
        for url, body, status, said in [
            ("/api/github/repositories", unstored, 404, "not installed anywhere"),
            ("/api/github/repositories", {**unstored, "installation_id": 999}, 404, "999"),
            ("/api/github/branches", {**base, "private_key": private}, 404, "not installed on"),
            ("/api/github/repositories", {**unstored, "private_key": other_key}, 422, "refused"),
            ("/api/github/repositories", {**unstored, "private_key": "x"}, 422, "PEM"),
        ]:
            answer = api.post(url, json=body)
            assert answer.status_code == status and said in answer.text, (url, answer.text)
            assert private.splitlines()[1] not in answer.text
        read_only = fake_github.install_app(
            app_id, FAKE_LOGIN, permissions={"contents": "read", "metadata": "read"}
        )
        listed = api.post("/api/github/repositories", json=unstored).json()  # its only one
        assert github_repo in {r["full_name"] for r in listed["items"]}
        assert not any(r["can_push"] for r in listed["items"])  # contents: read
        second = fake_github.install_app(app_id, f"org-{uuid.uuid4().hex[:6]}")
        several = api.post("/api/github/repositories", json=unstored)
        assert several.status_code == 422, several.text
        assert "2 installations" in several.text and str(second) in several.text
        chosen = api.post("/api/github/repositories", json={**unstored, "installation_id": second})
        assert chosen.json() == {"items": [], "next_page": None}  # an account with none
        answer = api.post(
            "/api/github/configure",
            json={**base, "private_key": private, "installation_id": read_only},
        )
        assert answer.status_code == 422 and "Contents: Read and write" in answer.text
        assert api.get("/api/github/config").json()["connected"] is False


def test_a_full_sync_as_an_app_leaks_no_secret(
    cluster: Cluster,
    fake_github: FakeGitHub,
    app_id: int,
    app_key: tuple[str, str],
    installation: int,
    github_repo: str,
    tmp_path: Path,
) -> None:
    private = app_key[0]
    key_lines = [line for line in private.splitlines() if not line.startswith("-----")]
    answers: list[httpx.Response] = []
    with cluster.client() as api:

        def call(method: str, url: str, **options) -> httpx.Response:
            answers.append(api.request(method, url, **options))
            return answers[-1]

        body = {"repository": github_repo, "branch": "main", "app_id": str(app_id)}
        body["private_key"] = private
        assert call("POST", "/api/github/validate", json=body).json()["login"].endswith("[bot]")
        # before connecting: the installation's repositories, then the branches, to pick from
        fake_github.commit(github_repo, {"README.md": "hi\n"})
        unstored = {"app_id": str(app_id), "private_key": private}
        listed = call("POST", "/api/github/repositories", json=unstored).json()
        assert [(r["full_name"], r["can_push"]) for r in listed["items"]] == [(github_repo, True)]
        given = call(
            "POST", "/api/github/repositories", json={**body, "installation_id": installation}
        )
        assert given.json() == listed
        branches = call("POST", "/api/github/branches", json=body).json()["items"]
        assert [b["name"] for b in branches] == ["main"]
        assert call("GET", "/api/github/config").json()["connected"] is False
        key_file = tmp_path / "app.pem"
        key_file.write_text(private)
        connect = ["connect", "-r", github_repo, "--app-id", str(app_id)]
        out = ok(bifrost(cluster, *connect, "--private-key-file", str(key_file)))
        assert f"as GitHub App {app_id} (installation {installation})" in out, out
        status = ok(bifrost(cluster, "status"))
        assert f"GitHub App {app_id}, installation {installation}" in status
        printed = out + status
        config = call("GET", "/api/github/config").json()
        assert (config["auth"], config["app_id"], config["installation_id"]) == (
            "app",
            str(app_id),
            installation,
        )
        listing = call("GET", "/api/github/repositories").json()
        assert [r["full_name"] for r in listing["items"]] == [github_repo]

        put(api, "workflows/hello.py", b"from bifrost import workflow\n\n@workflow\ndef hi():\n")
        put(
            api, "workflows/hello.py", b"from bifrost import workflow\n\n@workflow\ndef hi(): ...\n"
        )
        fake_github.commit(github_repo, {"shared/remote.py": "X = 1\n"})
        job = wait(api, start(api))
        assert job["status"] == "success", job
        assert set(fake_github.files(github_repo)) == {
            "README.md",
            "workflows/hello.py",
            "shared/remote.py",
        }
        assert api.get("/api/files/shared/remote.py").content == b"X = 1\n"
        commits = call("GET", "/api/github/commits").json()["items"]
        assert commits[0]["author"] is not None

        # reconnecting without a credential keeps the app (its installation found again)
        again = call(
            "POST", "/api/github/configure", json={"repository": github_repo, "branch": "main"}
        )
        assert again.json()["auth"] == "app", again.text

    assert "ghs_" not in printed and not any(line in printed for line in key_lines)
    for answer in answers:
        assert "ghs_" not in answer.text and "PRIVATE KEY" not in answer.text, answer.text
        assert not any(line in answer.text for line in key_lines)
    stored = database_text(cluster.backend)
    assert "ghs_" not in stored and not any(line in stored for line in key_lines)
    cluster.stop()
    logs = cluster.logs()
    assert "ghs_" not in logs and not any(line in logs for line in key_lines)


def test_the_fakes_command_line_registers_and_installs_apps(
    fake_github: FakeGitHub, app_key: tuple[str, str], github_repo: str, tmp_path: Path
) -> None:
    public = tmp_path / "app.pub.pem"
    public.write_text(app_key[1])

    def fake(*args: str) -> str:
        command = [sys.executable, "-m", "bifrost.testing.fake_github", "--url", fake_github.url]
        done = subprocess.run([*command, *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    registered = fake("register-app", "--public-key", str(public), "--slug", "cli-app")
    app_id = int(registered.split()[2])
    installed = fake("install-app", str(app_id), "--account", FAKE_LOGIN, "--read-only")
    installation = int(installed.split()[1])
    assert "last 120 s" in fake("token-lifetime", "120")
    fake_github.configure(installation_token_lifetime_s=3600)
    now = time.time()
    signed = _jwt(app_key[0], app_id, iat=now - 60, exp=now + 540)
    response = httpx.get(
        f"{fake_github.url}/repos/{github_repo}/installation",
        headers={"Authorization": f"Bearer {signed}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == installation
    assert response.json()["permissions"]["contents"] == "read"
