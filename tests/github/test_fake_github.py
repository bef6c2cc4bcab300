"""The fake GitHub keeps GitHub's rules, checked over HTTP with plain httpx (no project client):
real git SHAs, fast-forward only, GitHub's 4xx answers, ETags, raw blobs, tarballs, pagination,
the /api/v3 base, and the faults and races tests inject."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import shutil
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator

import grimp
import httpx
import pytest

from bifrost.testing.fake_github.control import FakeGitHub
from tests.github.conftest import FAKE_LOGIN

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@pytest.fixture
def gh(fake_github: FakeGitHub) -> Iterator[httpx.Client]:
    headers = {
        "Authorization": f"Bearer {fake_github.token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    with httpx.Client(base_url=fake_github.url, headers=headers, timeout=10) as client:
        yield client


def git_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def head(gh: httpx.Client, repo: str, branch: str = "main") -> str:
    return gh.get(f"/repos/{repo}/git/ref/heads/{branch}").json()["object"]["sha"]


def tree_of(gh: httpx.Client, repo: str, commit: str) -> str:
    return gh.get(f"/repos/{repo}/git/commits/{commit}").json()["tree"]["sha"]


def listing(gh: httpx.Client, repo: str, ref: str) -> dict[str, tuple[str, str]]:
    body = gh.get(f"/repos/{repo}/git/trees/{ref}", params={"recursive": "1"}).json()
    return {e["path"]: (e["mode"], e["sha"]) for e in body["tree"] if e["type"] == "blob"}


def push(
    gh: httpx.Client, repo: str, entries: list[dict], *, branch: str = "main", force: bool = False
) -> httpx.Response:
    """Tree on the head's tree, commit on the head, PATCH the ref: the client's push."""
    parent = head(gh, repo, branch)
    tree = gh.post(
        f"/repos/{repo}/git/trees", json={"base_tree": tree_of(gh, repo, parent), "tree": entries}
    )
    assert tree.status_code == 201, tree.text
    commit = gh.post(
        f"/repos/{repo}/git/commits",
        json={"message": "push", "tree": tree.json()["sha"], "parents": [parent]},
    )
    assert commit.status_code == 201, commit.text
    return gh.patch(
        f"/repos/{repo}/git/refs/heads/{branch}", json={"sha": commit.json()["sha"], "force": force}
    )


# -- accounts and repositories -------------------------------------------------------------------
def test_user_answers_with_scopes_and_rate_limit_headers(gh: httpx.Client) -> None:
    response = gh.get("/user")
    assert response.status_code == 200
    assert response.json()["login"] == FAKE_LOGIN
    assert response.headers["x-oauth-scopes"] == "repo, workflow"
    assert int(response.headers["x-ratelimit-remaining"]) < int(
        response.headers["x-ratelimit-limit"]
    )
    assert "x-ratelimit-reset" in response.headers


def test_an_unknown_token_is_401_bad_credentials(fake_github: FakeGitHub, github_repo: str) -> None:
    for path in ("/user", f"/repos/{github_repo}"):
        response = httpx.get(fake_github.url + path, headers={"Authorization": "Bearer nope"})
        assert response.status_code == 401
        assert response.json()["message"] == "Bad credentials"
    assert httpx.get(fake_github.url + "/user").status_code == 401


def test_an_unknown_repository_or_route_is_404_json(gh: httpx.Client) -> None:
    for path in ("/repos/octocat/no-such-repo", "/repos/octocat/x/git/nothing", "/nowhere"):
        response = gh.get(path)
        assert response.status_code == 404
        assert response.json()["message"] == "Not Found"


def test_post_user_repos_creates_an_empty_repository_a_user_can_fill(gh: httpx.Client) -> None:
    name = f"made-{time.monotonic_ns()}"
    created = gh.post("/user/repos", json={"name": name, "private": True, "auto_init": False})
    assert created.status_code == 201
    body = created.json()
    assert body["full_name"] == f"{FAKE_LOGIN}/{name}"
    assert body["private"] is True and body["permissions"]["push"] is True
    again = gh.post("/user/repos", json={"name": name})
    assert again.status_code == 422
    assert again.json()["errors"][0]["message"] == "name already exists on this account"
    assert gh.get(f"/repos/{FAKE_LOGIN}/{name}").json()["default_branch"] == "main"
    listed = gh.get("/user/repos", params={"sort": "updated", "per_page": 100}).json()
    assert f"{FAKE_LOGIN}/{name}" in [r["full_name"] for r in listed]


def test_org_repositories_are_created_under_the_org(gh: httpx.Client) -> None:
    created = gh.post("/orgs/acme/repos", json={"name": f"org-{time.monotonic_ns()}"})
    assert created.status_code == 201
    assert created.json()["owner"] == {
        **created.json()["owner"],
        "login": "acme",
        "type": "Organization",
    }


# -- empty repositories and the contents PUT -----------------------------------------------------
def test_an_empty_repository_answers_409_to_git_data(gh: httpx.Client, github_repo: str) -> None:
    base = f"/repos/{github_repo}"
    answers = [
        gh.get(f"{base}/git/ref/heads/main"),
        gh.get(f"{base}/git/commits/{'a' * 40}"),
        gh.get(f"{base}/git/trees/{EMPTY_TREE}"),
        gh.get(f"{base}/git/blobs/{'a' * 40}"),
        gh.get(f"{base}/commits"),
        gh.post(f"{base}/git/blobs", json={"content": "x"}),
        gh.post(
            f"{base}/git/trees",
            json={"tree": [{"path": "a", "mode": "100644", "type": "blob", "content": "x"}]},
        ),
        gh.post(f"{base}/git/commits", json={"message": "m", "tree": EMPTY_TREE, "parents": []}),
    ]
    for response in answers:
        assert response.status_code == 409, response.request.url
        assert response.json()["message"] == "Git Repository is empty."
    assert gh.get(f"{base}/branches").json() == []


def test_contents_put_makes_the_first_commit_and_the_branch(
    gh: httpx.Client, github_repo: str
) -> None:
    content = b"print('hello')\n"
    response = gh.put(
        f"/repos/{github_repo}/contents/src/hello.py",
        json={"message": "first", "content": base64.b64encode(content).decode(), "branch": "main"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["content"]["sha"] == git_sha(content)
    assert body["commit"]["parents"] == []
    assert head(gh, github_repo) == body["commit"]["sha"]
    assert listing(gh, github_repo, "main") == {"src/hello.py": ("100644", git_sha(content))}
    # updating needs the file's sha, as on GitHub
    update = {"message": "again", "content": base64.b64encode(b"v2").decode()}
    assert gh.put(f"/repos/{github_repo}/contents/src/hello.py", json=update).status_code == 422
    wrong = gh.put(
        f"/repos/{github_repo}/contents/src/hello.py", json={**update, "sha": git_sha(b"other")}
    )
    assert wrong.status_code == 409
    right = gh.put(
        f"/repos/{github_repo}/contents/src/hello.py", json={**update, "sha": git_sha(content)}
    )
    assert right.status_code == 200
    assert right.json()["commit"]["parents"][0]["sha"] == body["commit"]["sha"]


# -- git data ------------------------------------------------------------------------------------
def test_blobs_have_git_shas_and_come_raw_or_base64(
    fake_github: FakeGitHub, gh: httpx.Client, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"README.md": "hi\n"})
    data = bytes(range(256)) * 3
    made = gh.post(
        f"/repos/{github_repo}/git/blobs",
        json={"content": base64.b64encode(data).decode(), "encoding": "base64"},
    )
    assert made.status_code == 201
    assert made.json()["sha"] == git_sha(data)
    text = gh.post(f"/repos/{github_repo}/git/blobs", json={"content": "é\n", "encoding": "utf-8"})
    assert text.json()["sha"] == git_sha("é\n".encode())
    url = f"/repos/{github_repo}/git/blobs/{git_sha(data)}"
    as_json = gh.get(url).json()
    assert "\n" in as_json["content"] and as_json["encoding"] == "base64"
    assert base64.b64decode(as_json["content"]) == data and as_json["size"] == len(data)
    for accept in ("application/vnd.github.raw+json", "application/vnd.github.raw"):
        raw = gh.get(url, headers={"Accept": accept})
        assert raw.status_code == 200 and raw.content == data
    assert gh.get(f"/repos/{github_repo}/git/blobs/{'0' * 40}").status_code == 404


def test_a_push_fast_forwards_and_keeps_the_base_tree(
    fake_github: FakeGitHub, gh: httpx.Client, github_repo: str
) -> None:
    fake_github.commit(
        github_repo,
        {
            "a.txt": "a\n",
            "dir/b.txt": "b\n",
            "dir/run.sh": ("#!/bin/sh\n", "100755"),
            "dir/deep/c.txt": "c\n",
            "link": ("a.txt", "120000"),
        },
    )
    answer = push(
        gh,
        github_repo,
        [
            {"path": "dir/b.txt", "mode": "100644", "type": "blob", "content": "b2\n"},
            {"path": "dir/deep/c.txt", "mode": "100644", "type": "blob", "sha": None},
            {"path": "new/n.txt", "mode": "100644", "type": "blob", "content": "n\n"},
        ],
    )
    assert answer.status_code == 200, answer.text
    files = fake_github.files(github_repo)
    assert {p: f.content for p, f in files.items()} == {
        "a.txt": b"a\n",
        "dir/b.txt": b"b2\n",
        "dir/run.sh": b"#!/bin/sh\n",
        "new/n.txt": b"n\n",
        "link": b"a.txt",
    }
    assert files["dir/run.sh"].mode == "100755" and files["link"].mode == "120000"
    assert all(f.sha == git_sha(f.content) for f in files.values())
    tree = gh.get(f"/repos/{github_repo}/git/trees/main", params={"recursive": "1"}).json()
    assert "dir/deep" not in {e["path"] for e in tree["tree"]}  # emptied folders go, as in git


def test_a_ref_update_that_is_not_a_fast_forward_is_422(
    fake_github: FakeGitHub, gh: httpx.Client, github_repo: str
) -> None:
    first = fake_github.commit(github_repo, {"a.txt": "1"})
    fake_github.commit(github_repo, {"a.txt": "2"})
    stale = gh.post(
        f"/repos/{github_repo}/git/commits",
        json={"message": "stale", "tree": tree_of(gh, github_repo, first), "parents": [first]},
    ).json()["sha"]
    url = f"/repos/{github_repo}/git/refs/heads/main"
    refused = gh.patch(url, json={"sha": stale, "force": False})
    assert refused.status_code == 422
    assert refused.json()["message"] == "Update is not a fast forward"
    assert gh.patch(url, json={"sha": first}).status_code == 422  # a rewind neither
    forced = gh.patch(url, json={"sha": stale, "force": True})
    assert forced.status_code == 200 and forced.json()["object"]["sha"] == stale
    missing = gh.patch(f"/repos/{github_repo}/git/refs/heads/nope", json={"sha": stale})
    assert missing.status_code == 422


def test_tree_creation_422s(fake_github: FakeGitHub, gh: httpx.Client, github_repo: str) -> None:
    fake_github.commit(github_repo, {"a.txt": "a"})
    base = tree_of(gh, github_repo, head(gh, github_repo))
    url = f"/repos/{github_repo}/git/trees"
    bad = [
        [{"path": "missing.txt", "mode": "100644", "type": "blob", "sha": None}],
        [{"path": "dir/missing.txt", "mode": "100644", "type": "blob", "sha": None}],
        [{"path": "a.txt", "mode": "100644", "type": "blob", "sha": git_sha(b"a"), "content": "a"}],
        [{"path": "b.txt", "mode": "100644", "type": "blob", "sha": "f" * 40}],
        [{"path": "../x", "mode": "100644", "type": "blob", "content": "x"}],
        [{"path": "x", "mode": "100600", "type": "blob", "content": "x"}],
    ]
    for entries in bad:
        response = gh.post(url, json={"base_tree": base, "tree": entries})
        assert response.status_code == 422, entries
        assert response.json()["message"]
    assert gh.post(url, content=b"{not json").status_code == 400


def test_trees_without_base_tree_replace_everything(
    fake_github: FakeGitHub, gh: httpx.Client, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"a.txt": "a", "b.txt": "b"})
    made = gh.post(
        f"/repos/{github_repo}/git/trees",
        json={"tree": [{"path": "only/c.txt", "mode": "100644", "type": "blob", "content": "c"}]},
    )
    assert made.status_code == 201
    body = made.json()
    assert [e["path"] for e in body["tree"]] == ["only"] and body["tree"][0]["type"] == "tree"
    assert listing(gh, github_repo, body["sha"]) == {"only/c.txt": ("100644", git_sha(b"c"))}


def test_a_tree_above_the_byte_limit_is_422_too_large(
    fake_github: FakeGitHub, gh: httpx.Client, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"a.txt": "a"})
    fake_github.configure(max_tree_bytes=2000)
    try:
        entries = [
            {"path": f"f{i}.txt", "mode": "100644", "type": "blob", "content": "x" * 100}
            for i in range(30)
        ]
        response = gh.post(f"/repos/{github_repo}/git/trees", json={"tree": entries})
        assert response.status_code == 422
        assert "too large" in response.json()["message"]
        small = gh.post(f"/repos/{github_repo}/git/trees", json={"tree": entries[:5]})
        assert small.status_code == 201
    finally:
        fake_github.configure(max_tree_bytes=0)


def test_recursive_listings_above_the_limit_are_truncated(
    fake_github: FakeGitHub, gh: httpx.Client, github_repo: str
) -> None:
    fake_github.commit(
        github_repo, {f"d{i}/f{j}.txt": f"{i}{j}" for i in range(4) for j in range(5)}
    )
    fake_github.configure(max_tree_entries=10)
    try:
        url = f"/repos/{github_repo}/git/trees/main"
        cut = gh.get(url, params={"recursive": "1"}).json()
        assert cut["truncated"] is True and len(cut["tree"]) == 10
        top = gh.get(url).json()  # not recursive: the walk GitHub tells you to do
        assert top["truncated"] is False and [e["path"] for e in top["tree"]] == [
            "d0",
            "d1",
            "d2",
            "d3",
        ]
        # any recursive value recurses, even 0, as on GitHub
        assert gh.get(url, params={"recursive": "0"}).json()["truncated"] is True
    finally:
        fake_github.configure(max_tree_entries=100_000)
    whole = gh.get(f"/repos/{github_repo}/git/trees/main", params={"recursive": "1"}).json()
    assert whole["truncated"] is False and len(whole["tree"]) == 24


def test_ref_reads_carry_an_etag_and_answer_304(
    fake_github: FakeGitHub, gh: httpx.Client, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"a.txt": "1"})
    for url in (
        f"/repos/{github_repo}/git/ref/heads/main",
        f"/repos/{github_repo}/git/refs/heads/main",
    ):
        first = gh.get(url)
        etag = first.headers["etag"]
        again = gh.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
    fake_github.commit(github_repo, {"a.txt": "2"})
    moved = gh.get(url, headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved.headers["etag"] != etag


def test_refs_can_be_created_once(
    fake_github: FakeGitHub, gh: httpx.Client, github_repo: str
) -> None:
    sha = fake_github.commit(github_repo, {"a.txt": "1"})
    url = f"/repos/{github_repo}/git/refs"
    made = gh.post(url, json={"ref": "refs/heads/feature/x", "sha": sha})
    assert made.status_code == 201 and made.json()["ref"] == "refs/heads/feature/x"
    assert gh.post(url, json={"ref": "refs/heads/feature/x", "sha": sha}).status_code == 422
    assert gh.post(url, json={"ref": "refs/heads/y", "sha": "e" * 40}).status_code == 422
    assert head(gh, github_repo, "feature/x") == sha
    assert gh.get(f"/repos/{github_repo}/branches/feature/x").json()["commit"]["sha"] == sha


# -- listings and archives -----------------------------------------------------------------------
def test_branches_and_commits_paginate_with_link_headers(
    fake_github: FakeGitHub, gh: httpx.Client, github_repo: str
) -> None:
    shas = [fake_github.commit(github_repo, {"n.txt": str(i)}, message=f"c{i}") for i in range(5)]
    first = gh.get(f"/repos/{github_repo}/commits", params={"sha": "main", "per_page": 2})
    assert [c["sha"] for c in first.json()] == shas[::-1][:2]
    assert first.json()[0]["commit"]["message"] == "c4"
    pages, url = [], first.request.url
    while url:
        response = gh.get(str(url))
        pages.append([c["sha"] for c in response.json()])
        url = response.links.get("next", {}).get("url")
    assert [sha for page in pages for sha in page] == shas[::-1] and len(pages) == 3
    for i in range(3):
        gh.post(f"/repos/{github_repo}/git/refs", json={"ref": f"refs/heads/b{i}", "sha": shas[0]})
    branches = gh.get(f"/repos/{github_repo}/branches", params={"per_page": 3})
    assert len(branches.json()) == 3 and 'rel="next"' in branches.headers["link"]
    assert 'rel="last"' in branches.headers["link"]
    assert len(gh.get(branches.links["next"]["url"]).json()) == 1


def test_the_tarball_redirects_and_holds_modes_and_symlinks(
    fake_github: FakeGitHub, gh: httpx.Client, github_repo: str
) -> None:
    sha = fake_github.commit(
        github_repo,
        {
            "a.txt": "a\n",
            "bin/run": ("#!/bin/sh\n", "100755"),
            "link": ("a.txt", "120000"),
            "data.bin": bytes(range(256)),
        },
    )
    redirect = gh.get(f"/repos/{github_repo}/tarball/main")
    assert redirect.status_code == 302
    archive = httpx.get(redirect.headers["location"])  # codeload needs no token
    assert archive.status_code == 200
    top = f"{github_repo.replace('/', '-')}-{sha[:7]}/"
    with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert tar.pax_headers["comment"] == sha
        assert tar.extractfile(members[top + "a.txt"]).read() == b"a\n"
        assert tar.extractfile(members[top + "data.bin"]).read() == bytes(range(256))
        assert members[top + "bin/run"].mode & 0o111
        assert not members[top + "a.txt"].mode & 0o111
        assert members[top + "link"].issym() and members[top + "link"].linkname == "a.txt"
    assert gzip.decompress(archive.content)  # a gzip stream, as codeload sends
    followed = gh.get(f"/repos/{github_repo}/tarball/{sha}", follow_redirects=True)
    assert followed.content == archive.content
    assert gh.get(f"/repos/{github_repo}/tarball/nope").status_code == 404


def test_the_api_is_also_served_under_api_v3(fake_github: FakeGitHub, github_repo: str) -> None:
    sha = fake_github.commit(github_repo, {"a.txt": "a"})
    headers = {"Authorization": f"token {fake_github.token}"}
    with httpx.Client(base_url=fake_github.url + "/api/v3", headers=headers) as ghe:
        ref = ghe.get(f"/repos/{github_repo}/git/ref/heads/main").json()
        assert ref["object"]["sha"] == sha
        assert ref["url"].startswith(fake_github.url + "/api/v3/repos/")
        redirect = ghe.get(f"/repos/{github_repo}/tarball/main")
        assert redirect.status_code == 302
    assert [r["path"] for r in fake_github.requests()][-2:] == [
        f"/repos/{github_repo}/git/ref/heads/main",
        f"/repos/{github_repo}/tarball/main",
    ]


# -- faults and races ----------------------------------------------------------------------------
def test_faults_answer_rate_limits_and_server_errors(
    fake_github: FakeGitHub, gh: httpx.Client, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"a.txt": "a"})
    url = f"/repos/{github_repo}/git/ref/heads/main"
    fake_github.fault("GET", "/git/ref/", status=429, headers={"retry-after": "7"})
    limited = gh.get(url)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    assert "secondary rate limit" in limited.json()["message"]
    reset = str(int(time.time()) + 30)
    fake_github.fault(
        "GET",
        "/git/ref/",
        status=403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
    )
    exhausted = gh.get(url)
    assert exhausted.status_code == 403
    assert exhausted.headers["x-ratelimit-remaining"] == "0"
    assert exhausted.headers["x-ratelimit-reset"] == reset
    fake_github.fault("*", "/git/ref/", status=502, times=2)
    assert [gh.get(url).status_code for _ in range(3)] == [502, 502, 200]
    log = [(r["method"], r["status"]) for r in fake_github.requests() if r["path"] == url]
    assert log == [("GET", 429), ("GET", 403), ("GET", 502), ("GET", 502), ("GET", 200)]


def _in_thread(call) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    return thread, out


def _wait_for_hanging(fake: FakeGitHub, count: int = 1) -> None:
    deadline = time.monotonic() + 10
    while sum(r["state"] == "hanging" for r in fake.requests()) < count:
        assert time.monotonic() < deadline, fake.requests()
        time.sleep(0.02)


def test_a_hang_holds_a_request_until_released(
    fake_github: FakeGitHub, gh: httpx.Client, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"a.txt": "a"})
    fake_github.fault("GET", "/git/ref/", action="hang")
    url = f"/repos/{github_repo}/git/ref/heads/main"
    with pytest.raises(httpx.ReadTimeout):
        gh.get(url, timeout=0.3)  # the client gives up; the fake still holds it
    assert [r["state"] for r in fake_github.requests() if r["path"] == url] == ["hanging"]
    thread, out = _in_thread(lambda: gh.get(url))
    thread.join(5)
    assert out[0].status_code == 200  # one hang armed: the next request goes through
    assert fake_github.release() == 1
    deadline = time.monotonic() + 5
    while any(r["state"] != "done" for r in fake_github.requests()):
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_apply_then_hang_applies_the_update_but_never_answers(
    fake_github: FakeGitHub, gh: httpx.Client, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"a.txt": "a"})
    fake_github.fault("PATCH", "/git/refs/heads/main$", action="apply_then_hang")
    with pytest.raises(httpx.ReadTimeout):
        push(gh, github_repo, [{"path": "a.txt", "mode": "100644", "content": "mine"}])
    assert fake_github.files(github_repo)["a.txt"].content == b"mine"  # GitHub took it
    fake_github.release()


def test_a_race_moves_the_ref_right_before_the_next_update(
    fake_github: FakeGitHub, gh: httpx.Client, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"a.txt": "a", "b.txt": "b"})
    fake_github.race(github_repo, {"b.txt": "theirs"}, branch="main")
    refused = push(gh, github_repo, [{"path": "a.txt", "mode": "100644", "content": "mine"}])
    assert refused.status_code == 422
    assert refused.json()["message"] == "Update is not a fast forward"
    assert {p: f.content for p, f in fake_github.files(github_repo).items()} == {
        "a.txt": b"a",
        "b.txt": b"theirs",
    }
    again = push(gh, github_repo, [{"path": "a.txt", "mode": "100644", "content": "mine"}])
    assert again.status_code == 200  # the race fires once
    assert {p: f.content for p, f in fake_github.files(github_repo).items()} == {
        "a.txt": b"mine",
        "b.txt": b"theirs",
    }


# -- git itself can read what the fake writes ----------------------------------------------------
@pytest.mark.skipif(shutil.which("git") is None, reason="the git command is not installed")
def test_git_reads_the_repositories_the_fake_writes(
    fake_github: FakeGitHub, gh: httpx.Client, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"a.txt": "a\n", "run.sh": ("echo\n", "100755")})
    assert push(gh, github_repo, [{"path": "b.txt", "mode": "100644", "content": "b\n"}]).is_success
    git_dir = fake_github.data_dir / f"{github_repo}.git"  # type: ignore[attr-defined]

    def run(*args: str) -> str:
        command = ["git", "--git-dir", str(git_dir), *args]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    run("fsck", "--strict")
    assert run("log", "--format=%s", "main").split("\n")[:2] == ["push", "A teammate's change"]
    assert run("show", "main:b.txt") == "b\n"
    assert "100755 blob" in run("ls-tree", "main", "run.sh")


def test_the_fake_imports_no_other_bifrost_module() -> None:
    """Over the real import graph, so a module added later is covered too."""
    graph = grimp.build_graph("bifrost")
    fake = {m for m in graph.modules if m.startswith("bifrost.testing")}
    assert "bifrost.testing.fake_github.app" in fake
    outside = {
        (module, imported)
        for module in fake
        for imported in graph.find_modules_directly_imported_by(module)
        if not imported.startswith("bifrost.testing")
    }
    assert outside == set()
