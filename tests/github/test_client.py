"""The GitHub client: error paths and back-off against scripted answers (``httpx.MockTransport``),
then the contract against the fake GitHub over HTTP."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any
from unittest.mock import ANY

import httpx
import pytest

from bifrost.github.client import GitHubClient
from bifrost.github.errors import (
    AccessDenied,
    BranchNotFound,
    CorruptContent,
    EmptyRepository,
    GitHubError,
    GitHubUnavailable,
    NotFastForward,
    RateLimited,
    RepositoryNotFound,
    TokenRejected,
    Unprocessable,
)
from bifrost.github.models import Head, NewEntry, NotModified
from bifrost.workspace.entities import git_blob_sha

TOKEN = "ghp_secretTOKENvalue0123456789abcdefXYZ"
API = "https://ghe.example.com/api/v3"
SHA = "a" * 40
REPO = "octocat/hello"

Handler = Callable[[httpx.Request], httpx.Response]


class Sleeps(list[float]):
    """The injected ``sleep``: records every wait, waits for none."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def scripted(answers: Iterable[httpx.Response | Exception]) -> tuple[Handler, list[httpx.Request]]:
    """A handler giving ``answers`` in order (an exception is raised as the transport's)."""
    queue = list(answers)
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handle, seen


def client(handler: Handler, sleeps: Sleeps | None = None, **options: Any) -> GitHubClient:
    return GitHubClient(
        API,
        TOKEN,
        transport=httpx.MockTransport(handler),
        sleep=Sleeps() if sleeps is None else sleeps,
        **options,
    )


def ok(body: Any = None, **headers: str) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else {}, headers=headers)


def refusal(status: int, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"message": message}, headers=headers)


USER = ok({"login": "octocat"})


# --- rate limits and back-off ------------------------------------------------------------------


async def test_retry_after_is_honoured() -> None:
    handler, seen = scripted([refusal(403, "secondary rate limit", **{"retry-after": "7"}), USER])
    sleeps = Sleeps()
    async with client(handler, sleeps) as gh:
        assert (await gh.viewer()).login == "octocat"
        assert sleeps == [7.0]
        assert gh.calls["GET /user"] == 2
    assert len(seen) == 2


async def test_reset_is_honoured_when_the_limit_is_used_up() -> None:
    reset = int(time.time()) + 30
    limited = refusal(
        403,
        "API rate limit exceeded",
        **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
    )
    handler, _ = scripted([limited, USER])
    sleeps = Sleeps()
    async with client(handler, sleeps) as gh:
        await gh.viewer()
    assert len(sleeps) == 1
    assert 28 <= sleeps[0] <= 32


async def test_retry_after_comes_before_the_reset() -> None:
    both = refusal(
        429,
        "slow down",
        **{
            "retry-after": "3",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(time.time()) + 100),
        },
    )
    handler, _ = scripted([both, USER])
    sleeps = Sleeps()
    async with client(handler, sleeps) as gh:
        await gh.viewer()
    assert sleeps == [3.0]


async def test_back_off_is_exponential_and_capped() -> None:
    handler, _ = scripted([refusal(502, "Bad Gateway")] * 4 + [USER])
    sleeps = Sleeps()
    async with client(handler, sleeps, max_backoff_s=3.0) as gh:
        await gh.viewer()
    assert sleeps == [1.0, 2.0, 3.0, 3.0]


async def test_a_rate_limit_naming_no_wait_backs_off_from_a_minute_capped() -> None:
    handler, _ = scripted([refusal(429, "Too Many Requests")] * 2 + [USER])
    sleeps = Sleeps()
    async with client(handler, sleeps, max_backoff_s=90.0) as gh:
        await gh.viewer()
    assert sleeps == [60.0, 90.0]


async def test_gives_up_with_rate_limited_saying_when_it_resets() -> None:
    reset = int(time.time()) + 5
    limited = refusal(
        403,
        "API rate limit exceeded",
        **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
    )
    handler, seen = scripted([limited] * 3)
    sleeps = Sleeps()
    async with client(handler, sleeps, max_retries=2) as gh:
        with pytest.raises(RateLimited) as raised:
            await gh.viewer()
    assert len(seen) == 3 and len(sleeps) == 2
    assert time.strftime("%H:%M:%S UTC", time.gmtime(reset)) in str(raised.value)


async def test_a_reset_beyond_the_cap_gives_up_at_once() -> None:
    limited = refusal(
        403,
        "API rate limit exceeded",
        **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 3600)},
    )
    handler, seen = scripted([limited])
    sleeps = Sleeps()
    async with client(handler, sleeps, max_backoff_s=120.0) as gh:
        with pytest.raises(RateLimited, match="resets at"):
            await gh.viewer()
    assert len(seen) == 1 and sleeps == []


async def test_timeouts_on_reads_are_retried() -> None:
    handler, seen = scripted([httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), USER])
    sleeps = Sleeps()
    async with client(handler, sleeps) as gh:
        await gh.viewer()
    assert len(seen) == 3 and sleeps == [1.0, 2.0]


async def test_content_addressed_posts_are_retried_on_5xx() -> None:
    content = b"hello\n"
    handler, seen = scripted([refusal(500, "oops"), ok({"sha": git_blob_sha(content)})])
    async with client(handler) as gh:
        assert await gh.create_blob(REPO, content) == git_blob_sha(content)
        assert gh.writes == 2
    assert json.loads(seen[0].content) == {
        "content": base64.b64encode(content).decode(),
        "encoding": "base64",
    }


# --- what is never retried, and the ref read-back ---------------------------------------------


@pytest.mark.parametrize("failure", [refusal(502, "Bad Gateway"), httpx.ReadTimeout("slow")])
async def test_creating_a_repository_is_not_retried_after_a_5xx_or_timeout(failure: Any) -> None:
    handler, seen = scripted([failure])
    async with client(handler) as gh:
        with pytest.raises(GitHubUnavailable, match="look on GitHub before trying again"):
            await gh.create_repository("hello")
    assert len(seen) == 1
    assert seen[0].url.path == "/api/v3/user/repos"
    assert json.loads(seen[0].content)["auto_init"] is False


async def test_put_contents_is_not_retried_after_a_5xx() -> None:
    handler, seen = scripted([refusal(503, "Service Unavailable")])
    async with client(handler) as gh:
        with pytest.raises(GitHubUnavailable):
            await gh.put_contents(REPO, "README.md", b"hi", message="first", branch="main")
    assert len(seen) == 1


async def test_a_request_that_never_left_is_retried_even_when_unsafe() -> None:
    created = ok({"full_name": "acme/hello", "private": True, "default_branch": "main"})
    handler, seen = scripted([httpx.ConnectError("refused"), created])
    async with client(handler) as gh:
        repository = await gh.create_repository("hello", owner="acme")
    assert repository.full_name == "acme/hello"
    assert [r.url.path for r in seen] == ["/api/v3/orgs/acme/repos"] * 2


async def test_a_rate_limited_write_is_retried() -> None:
    limited = refusal(403, "secondary rate limit", **{"retry-after": "1"})
    handler, seen = scripted([limited, ok({"commit": {"sha": SHA}})])
    async with client(handler) as gh:
        assert await gh.put_contents(REPO, "a.py", b"", message="m", branch="main") == SHA
    assert len(seen) == 2


def ref(sha: str) -> httpx.Response:
    return ok({"ref": "refs/heads/main", "object": {"sha": sha, "type": "commit"}}, etag='"e1"')


@pytest.mark.parametrize("lost", [refusal(502, "Bad Gateway"), httpx.ReadTimeout("slow")])
async def test_a_ref_update_whose_answer_was_lost_reads_the_ref_back(lost: Any) -> None:
    handler, seen = scripted([lost, ref(SHA)])
    async with client(handler) as gh:
        assert await gh.update_ref(REPO, "main", SHA) == SHA
        assert gh.calls == {"PATCH /git/refs": 1, "GET /git/ref": 1}
    assert json.loads(seen[0].content) == {"sha": SHA, "force": False}
    assert seen[1].url.path == f"/api/v3/repos/{REPO}/git/ref/heads/main"
    assert "if-none-match" not in seen[1].headers


async def test_a_ref_update_that_did_not_land_is_sent_again() -> None:
    other = "b" * 40
    handler, seen = scripted(
        [refusal(500, "oops"), ref(other), refusal(422, "Update is not a fast forward")]
    )
    async with client(handler) as gh:
        with pytest.raises(NotFastForward, match="preview again"):
            await gh.update_ref(REPO, "main", SHA)
    assert [r.method for r in seen] == ["PATCH", "GET", "PATCH"]


async def test_create_ref_reads_back_too() -> None:
    handler, _ = scripted([httpx.ReadTimeout("slow"), ref(SHA)])
    async with client(handler) as gh:
        assert await gh.create_ref(REPO, "main", SHA) == SHA


# --- refusals: which error, and what it says --------------------------------------------------


async def test_422_not_fast_forward_versus_other_refusals() -> None:
    handler, _ = scripted([refusal(422, "Update is not a fast forward")])
    async with client(handler) as gh:
        with pytest.raises(NotFastForward):
            await gh.update_ref(REPO, "main", SHA)
    too_large = httpx.Response(
        422,
        json={"message": "Invalid request", "errors": [{"message": "input too large"}]},
    )
    handler, _ = scripted([too_large])
    async with client(handler) as gh:
        with pytest.raises(Unprocessable) as raised:
            await gh.create_tree(REPO, [NewEntry("a.py", content="x")], base_tree=SHA)
    assert "input too large" in raised.value.github_message
    assert "input too large" in str(raised.value) and REPO in str(raised.value)


async def test_401_403_404_say_what_to_do_and_name_the_repository() -> None:
    handler, _ = scripted([refusal(401, "Bad credentials")])
    async with client(handler) as gh:
        with pytest.raises(TokenRejected, match="create a new one"):
            await gh.viewer()
    handler, _ = scripted([refusal(403, "Resource not accessible by personal access token")])
    async with client(handler) as gh:
        with pytest.raises(AccessDenied, match=f"Contents: read and write on {REPO}"):
            await gh.create_commit(REPO, message="m", tree=SHA, parents=[])
    handler, _ = scripted([refusal(404, "Not Found")])
    async with client(handler) as gh:
        with pytest.raises(RepositoryNotFound, match=f"token has access to {REPO}"):
            await gh.repository(REPO)


async def test_a_missing_branch_is_told_from_a_missing_repository() -> None:
    repository = ok({"full_name": REPO, "default_branch": "main", "private": False})
    handler, _ = scripted([refusal(404, "Not Found"), repository])
    async with client(handler) as gh:
        with pytest.raises(BranchNotFound, match="no branch dev"):
            await gh.head(REPO, "dev")
    handler, _ = scripted([refusal(404, "Not Found"), refusal(404, "Not Found")])
    async with client(handler) as gh:
        with pytest.raises(RepositoryNotFound):
            await gh.head(REPO, "dev")


async def test_an_empty_repository() -> None:
    empty = refusal(409, "Git Repository is empty.")
    handler, _ = scripted([empty, empty, empty])
    async with client(handler) as gh:
        assert await gh.head(REPO, "main") is None
        assert (await gh.commits(REPO, "main")).items == []
        with pytest.raises(EmptyRepository, match="is empty"):
            await gh.create_blob(REPO, b"x")


async def test_an_answer_that_is_not_githubs_json() -> None:
    page = httpx.Response(200, text="<html>sign in</html>")
    handler, _ = scripted([page])
    async with client(handler) as gh:
        with pytest.raises(GitHubUnavailable, match="BIFROST_GITHUB_API_URL"):
            await gh.viewer()


async def test_a_blob_is_checked_against_its_sha() -> None:
    content = b"\x00binary\xff"
    handler, seen = scripted([httpx.Response(200, content=content)] * 2)
    async with client(handler) as gh:
        assert await gh.blob(REPO, git_blob_sha(content)) == content
        with pytest.raises(CorruptContent):
            await gh.blob(REPO, SHA)
    assert seen[0].headers["accept"] == "application/vnd.github.raw+json"


def every_failure() -> list[httpx.Response | Exception]:
    limited = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 9999)}
    return [
        refusal(401, "Bad credentials"),
        refusal(403, "Forbidden"),
        refusal(403, "API rate limit exceeded", **limited),
        refusal(404, "Not Found"),
        refusal(409, "Git Repository is empty."),
        refusal(422, "Validation Failed"),
        refusal(500, "oops"),
        httpx.Response(200, text="not json"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ]


@pytest.mark.parametrize("failure", every_failure())
async def test_the_token_is_in_no_error(failure: Any) -> None:
    handler, _ = scripted([failure])
    async with client(handler, max_retries=0) as gh:
        assert TOKEN not in repr(gh)
        with pytest.raises(GitHubError) as raised:
            await gh.create_repository("hello")
    error = raised.value
    shown = [str(error), repr(error), "".join(traceback.format_exception(error))]
    assert all(TOKEN not in text for text in shown)


# --- the request itself ------------------------------------------------------------------------


async def test_headers_and_a_base_url_with_a_path() -> None:
    handler, seen = scripted([USER])
    async with client(handler) as gh:
        await gh.viewer()
    request = seen[0]
    assert str(request.url) == f"{API}/user"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert request.headers["user-agent"]


async def test_a_ref_read_with_an_etag_can_answer_not_modified() -> None:
    handler, seen = scripted([ref(SHA), httpx.Response(304, headers={"etag": '"e1"'})])
    async with client(handler) as gh:
        head = await gh.head(REPO, "main")
        assert head == Head(sha=SHA, etag='"e1"')
        assert await gh.head(REPO, "main", etag=head.etag) == NotModified(etag='"e1"')
        assert gh.calls["GET /git/ref"] == 2
    assert seen[1].headers["if-none-match"] == '"e1"'


async def test_tree_recursion_is_a_1_or_no_parameter() -> None:
    listing = ok({"sha": SHA, "tree": [], "truncated": False})
    handler, seen = scripted([listing, listing])
    async with client(handler) as gh:
        await gh.tree(REPO, SHA)
        await gh.tree(REPO, SHA, recursive=False)
    assert seen[0].url.params["recursive"] == "1"
    assert "recursive" not in seen[1].url.params


async def test_pages_follow_the_link_header() -> None:
    link = (
        f'<{API}/user/repos?page=3&per_page=2>; rel="next", <{API}/user/repos?page=9>; rel="last"'
    )
    handler, _ = scripted([ok([], link=link), ok([])])
    async with client(handler) as gh:
        assert (await gh.repositories(page=2, per_page=2)).next_page == 3
        assert (await gh.repositories()).next_page is None


async def test_a_tree_sends_deletes_as_null_and_text_inline() -> None:
    handler, seen = scripted([ok({"sha": SHA})])
    entries = [
        NewEntry("gone.py"),
        NewEntry("new.py", content="x = 1\n"),
        NewEntry("b.bin", sha=SHA),
    ]
    async with client(handler) as gh:
        assert await gh.create_tree(REPO, entries, base_tree="c" * 40) == SHA
    body = json.loads(seen[0].content)
    assert body["base_tree"] == "c" * 40
    assert body["tree"] == [
        {"path": "gone.py", "mode": "100644", "type": "blob", "sha": None},
        {"path": "new.py", "mode": "100644", "type": "blob", "content": "x = 1\n"},
        {"path": "b.bin", "mode": "100644", "type": "blob", "sha": SHA},
    ]


async def test_the_tarball_follows_its_redirect() -> None:
    download = "https://codeload.example.com/octocat/hello/tar.gz/main"
    handler, seen = scripted(
        [httpx.Response(302, headers={"location": download}), httpx.Response(200, content=b"gz")]
    )
    async with client(handler) as gh:
        assert await gh.tarball(REPO, "main") == b"gz"
        assert gh.calls["GET /tarball"] == 1
    assert seen[0].url.path == f"/api/v3/repos/{REPO}/tarball/main"
    assert "authorization" not in seen[1].headers  # httpx drops it for another host


# --- the contract, against the fake GitHub over HTTP -------------------------------------------


@pytest.fixture
async def gh(fake_github: Any) -> AsyncIterator[GitHubClient]:
    async with GitHubClient(fake_github.url, fake_github.token, sleep=Sleeps()) as client:
        yield client


async def first_commit(gh: GitHubClient, repo: str) -> str:
    return await gh.put_contents(repo, "README.md", b"hello\n", message="first", branch="main")


async def test_an_empty_repository_and_its_first_commit(gh: GitHubClient, github_repo: str) -> None:
    assert await gh.head(github_repo, "main") is None
    assert (await gh.commits(github_repo, "main")).items == []
    with pytest.raises(EmptyRepository):
        await gh.create_blob(github_repo, b"x")
    sha = await first_commit(gh, github_repo)
    head = await gh.head(github_repo, "main")
    assert isinstance(head, Head) and head.sha == sha
    assert (await gh.repository(github_repo)).full_name == github_repo
    assert [b.name for b in (await gh.branches(github_repo)).items] == ["main"]


async def test_a_commit_through_the_git_data_api(
    gh: GitHubClient, github_repo: str, fake_github: Any
) -> None:
    parent = await first_commit(gh, github_repo)
    base = (await gh.commit(github_repo, parent)).tree_sha
    binary = b"\x00\x01\xff"
    blob = await gh.create_blob(github_repo, binary)
    entries = [
        NewEntry("README.md"),
        NewEntry("src/run.sh", mode="100755", content="echo hi\n"),
        NewEntry("data.bin", sha=blob),
    ]
    tree = await gh.create_tree(github_repo, entries, base_tree=base)
    commit = await gh.create_commit(github_repo, message="two", tree=tree, parents=[parent])
    assert await gh.update_ref(github_repo, "main", commit) == commit

    listing = await gh.tree(github_repo, tree)
    assert {(e.path, e.mode, e.type) for e in listing.entries} == {
        ("src", "040000", "tree"),
        ("src/run.sh", "100755", "blob"),
        ("data.bin", "100644", "blob"),
    }
    assert not listing.truncated
    assert await gh.blob(github_repo, blob) == binary
    assert (await gh.commit(github_repo, commit)).parents == [parent]
    files = fake_github.files(github_repo, "main")
    assert sorted(files) == ["data.bin", "src/run.sh"]
    assert gh.writes == 5


async def test_a_ref_update_that_is_not_a_fast_forward(gh: GitHubClient, github_repo: str) -> None:
    parent = await first_commit(gh, github_repo)
    tree = (await gh.commit(github_repo, parent)).tree_sha
    ours = await gh.create_commit(github_repo, message="ours", tree=tree, parents=[parent])
    theirs = await gh.create_commit(github_repo, message="theirs", tree=tree, parents=[parent])
    await gh.update_ref(github_repo, "main", theirs)
    with pytest.raises(NotFastForward):
        await gh.update_ref(github_repo, "main", ours)
    head = await gh.head(github_repo, "main")
    assert isinstance(head, Head) and head.sha == theirs


async def test_a_new_branch(gh: GitHubClient, github_repo: str) -> None:
    sha = await first_commit(gh, github_repo)
    assert await gh.create_ref(github_repo, "feature/x", sha) == sha
    head = await gh.head(github_repo, "feature/x")
    assert isinstance(head, Head) and head.sha == sha
    with pytest.raises(BranchNotFound):
        await gh.head(github_repo, "nope")


async def test_the_etag_of_a_ref(gh: GitHubClient, github_repo: str, fake_github: Any) -> None:
    await first_commit(gh, github_repo)
    head = await gh.head(github_repo, "main")
    assert isinstance(head, Head) and head.etag
    assert isinstance(await gh.head(github_repo, "main", etag=head.etag), NotModified)
    fake_github.commit(github_repo, {"b.txt": "b"})
    moved = await gh.head(github_repo, "main", etag=head.etag)
    assert isinstance(moved, Head) and moved.sha != head.sha


async def test_a_truncated_tree(gh: GitHubClient, github_repo: str, fake_github: Any) -> None:
    sha = fake_github.commit(github_repo, {f"d{i}/f.txt": str(i) for i in range(6)})
    tree_sha = (await gh.commit(github_repo, sha)).tree_sha
    fake_github.configure(max_tree_entries=4)
    try:
        assert (await gh.tree(github_repo, tree_sha)).truncated
        top = await gh.tree(github_repo, tree_sha, recursive=False)
    finally:
        fake_github.configure(max_tree_entries=100_000)
    assert not top.truncated and len(top.entries) == 6


async def test_the_tarball(gh: GitHubClient, github_repo: str, fake_github: Any) -> None:
    sha = fake_github.commit(github_repo, {"a/b.py": "x = 1\n"})
    archive = await gh.tarball(github_repo, sha)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        names = tar.getnames()
        member = next(m for m in tar.getmembers() if m.name.endswith("/a/b.py"))
        assert tar.extractfile(member).read() == b"x = 1\n"  # type: ignore[union-attr]
    assert any(name.endswith(f"-{sha[:7]}/a/b.py") for name in names)


async def test_commits_are_paginated(gh: GitHubClient, github_repo: str, fake_github: Any) -> None:
    shas = [fake_github.commit(github_repo, {"f.txt": str(i)}, message=f"c{i}") for i in range(3)]
    first = await gh.commits(github_repo, "main", per_page=2)
    assert [c.sha for c in first.items] == shas[::-1][:2] and first.next_page == 2
    second = await gh.commits(github_repo, "main", page=2, per_page=2)
    assert [c.sha for c in second.items] == shas[:1] and second.next_page is None
    assert second.items[0].message.startswith("c0")


async def test_faults_of_the_fake_are_retried(
    gh: GitHubClient, github_repo: str, fake_github: Any
) -> None:
    await first_commit(gh, github_repo)
    fake_github.fault(
        "GET", r".*/git/ref/heads/main$", status=403, times=1, headers={"retry-after": "2"}
    )
    fake_github.fault("GET", r".*/git/ref/heads/main$", status=502, times=1)
    assert isinstance(await gh.head(github_repo, "main"), Head)
    assert gh.calls["GET /git/ref"] == 3


async def test_a_ref_update_github_took_but_never_answered(
    github_repo: str, fake_github: Any
) -> None:
    async with GitHubClient(
        fake_github.url, fake_github.token, timeout_s=1.0, sleep=Sleeps()
    ) as gh:
        parent = await first_commit(gh, github_repo)
        tree = (await gh.commit(github_repo, parent)).tree_sha
        ours = await gh.create_commit(github_repo, message="ours", tree=tree, parents=[parent])
        fake_github.fault("PATCH", r".*/git/refs/heads/main$", action="apply_then_hang")
        assert await gh.update_ref(github_repo, "main", ours) == ours
        assert gh.calls["PATCH /git/refs"] == 1


async def test_a_github_enterprise_base_url(github_repo: str, fake_github: Any) -> None:
    async with GitHubClient(f"{fake_github.url}/api/v3/", fake_github.token) as gh:
        assert (await gh.viewer()).login == "octocat"
        sha = await first_commit(gh, github_repo)
        assert await gh.head(github_repo, "main") == Head(sha=sha, etag=ANY)
