"""The GitHub client: error paths and back-off against scripted answers (``httpx.MockTransport``),
then the contract against the fake GitHub over HTTP."""

from __future__ import annotations

import base64
import json
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

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
