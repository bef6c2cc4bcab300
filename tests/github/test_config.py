"""The GitHub configuration endpoints over HTTP, against a running deployment (both back ends)
pointed at the fake GitHub: every happy path and every refusal, with its status and message."""

from __future__ import annotations

import uuid

import httpx
import pytest

from bifrost.testing.fake_github.control import FakeGitHub
from tests.github.conftest import FAKE_LOGIN
from tests.serving import Cluster

NOT_CONNECTED = [
    ("GET", "/api/github/repositories", None),
    ("GET", "/api/github/branches?repository=octocat/anything", None),
    ("GET", "/api/github/commits", None),
    ("POST", "/api/github/create-repository", {"name": "never-made"}),
    ("POST", "/api/github/repositories", {}),  # no credential in the body: the stored one
    ("POST", "/api/github/branches", {"repository": "octocat/anything"}),
]


@pytest.fixture
def cluster_env(fake_github: FakeGitHub) -> dict[str, str]:
    # No retries: an injected 5xx answers at once instead of after the back-off.
    return {"BIFROST_GITHUB_API_URL": fake_github.url, "BIFROST_GITHUB_MAX_RETRIES": "0"}


@pytest.fixture
def client(cluster: Cluster) -> httpx.Client:
    with cluster.client() as client:
        yield client


def configure(
    client: httpx.Client, repository: str, branch: str = "main", **extra
) -> httpx.Response:
    return client.post(
        "/api/github/configure", json={"repository": repository, "branch": branch, **extra}
    )


def new_branch(fake_github: FakeGitHub, repository: str, name: str, sha: str) -> None:
    """A branch made on GitHub (the control API only commits to existing ones)."""
    made = httpx.post(
        f"{fake_github.url}/repos/{repository}/git/refs",
        headers={"Authorization": f"Bearer {fake_github.token}"},
        json={"ref": f"refs/heads/{name}", "sha": sha},
    )
    assert made.status_code == 201, made.text


def refused(response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    for word in words:
        assert word in detail, detail
    return detail


def test_connect_to_an_empty_repository_then_look_around(
    client: httpx.Client, fake_github: FakeGitHub, github_repo: str
) -> None:
    config = client.get("/api/github/config").json()
    assert config == {
        "connected": False,
        "repository": None,
        "branch": None,
        "api_url": fake_github.url,
        "auth": None,
        "app_id": None,
        "installation_id": None,
        "connected_by": None,
        "connected_at": None,
        "synced_commit": None,
        "synced_at": None,
    }
    viewer = client.post("/api/github/validate", json={"token": fake_github.token})
    assert viewer.status_code == 200, viewer.text
    assert viewer.json() == {"login": FAKE_LOGIN, "scopes": ["repo", "workflow"]}
    # validate remembers nothing
    assert client.get("/api/github/config").json()["connected"] is False

    # an empty repository has no branch yet: the first sync makes it
    connected = configure(client, github_repo, token=fake_github.token)
    assert connected.status_code == 200, connected.text
    config = connected.json()
    assert config["connected"] is True and config["auth"] == "token"
    assert (config["repository"], config["branch"]) == (github_repo, "main")
    assert config["connected_by"] == "admin" and config["connected_at"]
    assert config["synced_commit"] is None and config["synced_at"] is None
    assert client.get("/api/github/config").json() == config

    assert client.get("/api/github/commits").json() == {"items": [], "next_page": None}
    branches = client.get("/api/github/branches", params={"repository": github_repo})
    assert branches.json() == {"items": [], "next_page": None}

    head = fake_github.commit(github_repo, {"README.md": "hello\n"}, message="First")
    commits = client.get("/api/github/commits").json()
    assert [(c["sha"], c["message"]) for c in commits["items"]] == [(head, "First")]
    assert commits["items"][0]["author"] and commits["items"][0]["date"]
    assert commits["items"][0]["html_url"]
    branches = client.get("/api/github/branches", params={"repository": github_repo}).json()
    assert branches == {"items": [{"name": "main", "sha": head}], "next_page": None}

    listed = client.get("/api/github/repositories", params={"per_page": 100}).json()
    mine = [r for r in listed["items"] if r["full_name"] == github_repo]
    assert mine and mine[0]["can_push"] is True and mine[0]["private"] is True
    assert mine[0]["default_branch"] == "main" and mine[0]["html_url"]


def test_reconnecting_keeps_the_token_and_another_branch_must_exist(
    client: httpx.Client, fake_github: FakeGitHub, github_repo: str
) -> None:
    head = fake_github.commit(github_repo, {"a.txt": "a\n"})
    new_branch(fake_github, github_repo, "dev", head)
    assert configure(client, github_repo, token=fake_github.token).status_code == 200
    # token null (or left out): the stored one is kept and checked again
    moved = configure(client, github_repo, "dev", token=None)
    assert moved.status_code == 200, moved.text
    assert moved.json()["branch"] == "dev"
    assert configure(client, github_repo, "main").json()["branch"] == "main"

    detail = refused(configure(client, github_repo, "release/2.0"), 404, "release/2.0")
    assert "git push origin HEAD:release/2.0" in detail and "GET /api/github/branches" in detail
    assert "default is main" in detail
    assert client.get("/api/github/config").json()["branch"] == "main"  # nothing changed


def test_every_refusal_says_what_to_do(
    client: httpx.Client, fake_github: FakeGitHub, github_repo: str
) -> None:
    for method, url, body in NOT_CONNECTED:
        refused(client.request(method, url, json=body), 409, "not connected", "configure")
    refused(configure(client, github_repo), 422, "give a token")  # nothing stored to keep

    refused(client.post("/api/github/validate", json={"token": "ghp_wrong"}), 422, "401")
    refused(client.post("/api/github/validate", json={"token": "two words"}), 422, "not a GitHub")
    refused(configure(client, github_repo, token="ghp_wrong"), 422, "rejected the token")

    missing = f"{FAKE_LOGIN}/no-such-{uuid.uuid4().hex[:8]}"
    refused(configure(client, missing, token=fake_github.token), 404, missing)

    # public, someone else's: readable, not pushable
    public = f"someone-{uuid.uuid4().hex[:6]}/public"
    made = httpx.post(
        f"{fake_github.url}/_fake/repos",
        json={"full_name": public, "private": False, "owner_type": "User"},
    )
    assert made.status_code == 201, made.text
    refused(
        configure(client, public, token=fake_github.token),
        422,
        "not push",
        "Contents: read and write",
    )
    # a 403 from GitHub itself
    fake_github.fault("GET", f"/repos/{github_repo}$", status=403, message="Forbidden by policy")
    refused(configure(client, github_repo, token=fake_github.token), 422, "Contents: read")

    fake_github.fault("GET", f"/repos/{github_repo}$", status=502)
    refused(configure(client, github_repo, token=fake_github.token), 503, "try again")

    for repository in ("octocat", "octocat/", "/repo", "a/b/c", "-x/repo", "octo cat/r", "o/.."):
        refused(configure(client, repository, token=fake_github.token), 422, "owner/name")
    for branch in ("a..b", "a b", "-x", "x.lock", "a/.b", "x/", "a~1", "a:b", "@", "x@{1}"):
        refused(configure(client, github_repo, branch, token=fake_github.token), 422, "git")
    refused(configure(client, github_repo, "refs/heads/main"), 422, "branch name alone (main)")

    assert client.get("/api/github/config").json()["connected"] is False


def test_listings_need_a_connection_then_page(
    client: httpx.Client, fake_github: FakeGitHub, github_repo: str
) -> None:
    for n in range(5):
        fake_github.commit(github_repo, {f"f{n}.txt": f"{n}\n"}, message=f"commit {n}")
    assert configure(client, github_repo, token=fake_github.token).status_code == 200

    seen, page = [], 1
    while page is not None:
        answer = client.get("/api/github/commits", params={"page": page, "per_page": 2}).json()
        assert len(answer["items"]) == (2 if answer["next_page"] else 1)
        seen += [c["message"] for c in answer["items"]]
        page = answer["next_page"]
    assert seen == [f"commit {n}" for n in reversed(range(5))]  # newest first, none twice

    fake_github.create_repo(f"{FAKE_LOGIN}/repo-{uuid.uuid4().hex[:10]}")  # two at least
    first = client.get("/api/github/repositories", params={"per_page": 1}).json()
    assert len(first["items"]) == 1 and first["next_page"] == 2
    refused(client.get("/api/github/commits", params={"per_page": 101}), 422, "per_page")
    refused(client.get("/api/github/commits", params={"page": 0}), 422, "page")
    refused(client.get("/api/github/branches", params={"repository": "x"}), 422, "owner/name")
    missing = f"{FAKE_LOGIN}/no-such-{uuid.uuid4().hex[:8]}"
    refused(client.get("/api/github/branches", params={"repository": missing}), 404, missing)


def test_before_connecting_a_token_not_stored_lists_and_creates(
    client: httpx.Client, cluster: Cluster, fake_github: FakeGitHub, github_repo: str
) -> None:
    """A first connection picks its repository and branch from lists (or creates the
    repository) with a token sent in the body only: never stored, echoed or logged."""
    token = fake_github.token
    head = fake_github.commit(github_repo, {"a.txt": "a\n"})
    new_branch(fake_github, github_repo, "dev", head)
    fake_github.create_repo(f"{FAKE_LOGIN}/repo-{uuid.uuid4().hex[:10]}")  # two at least
    answers: list[httpx.Response] = []

    def post(url: str, body: dict) -> httpx.Response:
        answers.append(client.post(url, json=body))
        return answers[-1]

    listed = post("/api/github/repositories", {"token": token, "per_page": 100})
    assert listed.status_code == 200, listed.text
    mine = [r for r in listed.json()["items"] if r["full_name"] == github_repo]
    assert mine == [
        {
            "full_name": github_repo,
            "private": True,
            "default_branch": "main",
            "can_push": True,
            "html_url": mine[0]["html_url"],
        }
    ]
    first = post("/api/github/repositories", {"token": token, "per_page": 1}).json()
    assert len(first["items"]) == 1 and first["next_page"] == 2
    branches = post("/api/github/branches", {"token": token, "repository": github_repo})
    assert branches.status_code == 200, branches.text
    assert sorted(b["name"] for b in branches.json()["items"]) == ["dev", "main"]

    name = f"first-{uuid.uuid4().hex[:8]}"
    created = post("/api/github/create-repository", {"name": name, "token": token})
    assert created.status_code == 201, created.text
    assert created.json()["full_name"] == f"{FAKE_LOGIN}/{name}"
    assert client.get("/api/github/config").json()["connected"] is False  # nothing stored

    missing = f"{FAKE_LOGIN}/no-such-{uuid.uuid4().hex[:8]}"
    for url, body, status, said in [
        ("/api/github/repositories", {"token": "ghp_wrong"}, 422, "rejected the token"),
        ("/api/github/repositories", {"token": "two words"}, 422, "not a GitHub token"),
        ("/api/github/repositories", {"token": token, "per_page": 101}, 422, "per_page"),
        ("/api/github/branches", {"token": "ghp_wrong", "repository": github_repo}, 422, "401"),
        ("/api/github/branches", {"token": token, "repository": missing}, 404, missing),
        ("/api/github/branches", {"token": token, "repository": "xyz"}, 422, "owner/name"),
        ("/api/github/create-repository", {"name": name, "token": "no way"}, 422, "not a GitHub"),
    ]:
        refused(post(url, body), status, said)
    both = {"token": token, "app_id": 1, "private_key": "-----BEGIN RSA PRIVATE KEY-----"}
    refused(post("/api/github/repositories", both), 422, "not both")
    fake_github.fault("GET", "/user/repos", status=502)
    refused(post("/api/github/repositories", {"token": token}), 503, "try again")

    assert client.get("/api/github/config").json()["connected"] is False
    assert all(token not in answer.text for answer in answers)
    cluster.stop()
    logs = "".join(p.read_text(errors="replace") for p in cluster.log_dir.glob("*.log"))
    assert logs and token not in logs


def test_create_a_repository_connect_to_it_and_disconnect(
    client: httpx.Client, fake_github: FakeGitHub, github_repo: str
) -> None:
    assert configure(client, github_repo, token=fake_github.token).status_code == 200
    name = f"made-{uuid.uuid4().hex[:8]}"
    created = client.post(
        "/api/github/create-repository", json={"name": name, "description": "by Bifrost"}
    )
    assert created.status_code == 201, created.text
    assert created.json() == {
        "full_name": f"{FAKE_LOGIN}/{name}",
        "private": True,
        "default_branch": "main",
        "can_push": True,
        "html_url": created.json()["html_url"],
    }
    again = client.post("/api/github/create-repository", json={"name": name})
    refused(again, 422, "already exists")
    refused(client.post("/api/github/create-repository", json={"name": "a b"}), 422, "1-100")
    public = client.post(
        "/api/github/create-repository", json={"name": name + "-pub", "private": False}
    )
    assert public.status_code == 201 and public.json()["private"] is False

    moved = configure(client, f"{FAKE_LOGIN}/{name}")  # the stored token, an empty repository
    assert moved.status_code == 200 and moved.json()["repository"] == f"{FAKE_LOGIN}/{name}"

    gone = client.post("/api/github/disconnect")
    assert gone.status_code == 200
    assert gone.json()["connected"] is False and gone.json()["repository"] is None
    assert client.get("/api/github/config").json() == gone.json()
    refused(client.get("/api/github/commits"), 409, "not connected")
    assert client.post("/api/github/disconnect").json() == gone.json()  # twice is no error


def test_every_route_needs_the_admin_token(cluster: Cluster) -> None:
    with httpx.Client(base_url=cluster.urls[0]) as anonymous:
        for method, url, body in [
            *NOT_CONNECTED,
            ("GET", "/api/github/config", None),
            ("POST", "/api/github/validate", {"token": "x"}),
            ("POST", "/api/github/configure", {"repository": "a/b", "branch": "main"}),
            ("POST", "/api/github/disconnect", None),
        ]:
            assert anonymous.request(method, url, json=body).status_code == 401, url


def test_distributed_mode_without_a_shared_key_warns_at_start(cluster: Cluster) -> None:
    """Each machine would seal with its own key file: the others could not open the token."""
    warned = "BIFROST_SECRET_KEY is not set" in cluster.logs()
    assert warned == (cluster.backend.name == "postgres")
