"""Reading the branch against the fake GitHub: what each read costs, the snapshot it keeps, and the
walk of a truncated tree; on both back ends (the snapshot is a database row)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from bifrost.errors import NotFound
from bifrost.github.client import GitHubClient
from bifrost.github.remote import EMPTY, RemoteTree, fetch_blobs, read_remote
from bifrost.store import github_state
from bifrost.testing.fake_github.control import FakeGitHub
from bifrost.workspace.entities import git_blob_sha
from tests.github.calls import api_calls


@pytest.fixture
async def client(fake_github: FakeGitHub) -> AsyncIterator[GitHubClient]:
    async with GitHubClient(fake_github.url, fake_github.token) as gh:
        yield gh


def blob(text: str) -> tuple[str, str]:
    return ("100644", git_blob_sha(text.encode()))


async def read(client: GitHubClient, store, repo: str) -> RemoteTree:
    return await read_remote(client, store.db, repo, "main", concurrency=2)


async def test_an_empty_repository_is_an_empty_remote(
    fake_github: FakeGitHub, github_repo: str, client: GitHubClient, store
) -> None:
    assert await read(client, store, github_repo) == EMPTY
    assert api_calls(fake_github, github_repo) == ["GET /git/ref/heads/main"]
    assert await github_state.load_snapshot(store.db) is None


async def test_three_calls_then_one_while_the_branch_stays_then_three_again(
    fake_github: FakeGitHub, github_repo: str, client: GitHubClient, store
) -> None:
    first = fake_github.commit(
        github_repo,
        {
            "a.txt": "a",
            "bin/run.sh": ("#!/bin/sh\n", "100755"),
            "link": {"text": "a.txt", "mode": "120000"},
        },
    )
    fake_github.reset_requests()
    remote = await read(client, store, github_repo)
    assert remote.commit_sha == first
    assert remote.entries == {
        "a.txt": blob("a"),
        "bin/run.sh": ("100755", git_blob_sha(b"#!/bin/sh\n")),
        "link": ("120000", git_blob_sha(b"a.txt")),
    }
    assert api_calls(fake_github, github_repo) == [
        "GET /git/ref/heads/main",
        f"GET /git/commits/{first}",
        f"GET /git/trees/{remote.tree_sha}",
    ]
    stored = await github_state.load_snapshot(store.db)
    assert stored is not None and stored.commit_sha == first and stored.etag
    assert stored.entries["bin"][0] == "040000"  # subtrees are kept for a later walk

    assert await read(client, store, github_repo) == remote
    assert api_calls(fake_github, github_repo) == ["GET /git/ref/heads/main"]  # 304

    second = fake_github.commit(github_repo, {"a.txt": "b"})
    fake_github.reset_requests()
    moved = await read(client, store, github_repo)
    assert moved.commit_sha == second and moved.entries["a.txt"] == blob("b")
    assert len(api_calls(fake_github, github_repo)) == 3


async def test_a_failed_read_keeps_the_old_snapshot(
    fake_github: FakeGitHub, github_repo: str, client: GitHubClient, store
) -> None:
    fake_github.commit(github_repo, {"a.txt": "a"})
    await read(client, store, github_repo)
    before = await github_state.load_snapshot(store.db)
    fake_github.commit(github_repo, {"a.txt": "b"})
    fake_github.fault("GET", "/git/trees/", status=404)
    with pytest.raises(NotFound, match="no tree"):
        await read(client, store, github_repo)
    assert await github_state.load_snapshot(store.db) == before


async def test_a_truncated_tree_is_walked_only_where_it_changed(
    fake_github: FakeGitHub, github_repo: str, client: GitHubClient, store
) -> None:
    files = {f"{d}/{s}/f{i}.txt": f"{d}{s}{i}" for d in "abc" for s in "xy" for i in range(3)}
    fake_github.commit(github_repo, {**files, "top.txt": "top"})
    expected = {path: blob(text) for path, text in {**files, "top.txt": "top"}.items()}
    fake_github.configure(max_tree_entries=10)
    try:
        fake_github.reset_requests()
        remote = await read(client, store, github_repo)
        assert remote.entries == expected
        made = api_calls(fake_github, github_repo)
        # ref, commit, the truncated listing, then every tree: root, 3 dirs, 6 subdirs.
        assert len(made) == 3 + 1 + 3 + 6

        fake_github.commit(github_repo, {"b/y/f0.txt": "changed", "b/y/new.txt": "new"})
        fake_github.reset_requests()
        remote = await read(client, store, github_repo)
        expected.update({"b/y/f0.txt": blob("changed"), "b/y/new.txt": blob("new")})
        assert remote.entries == expected
        walked = [c for c in api_calls(fake_github, github_repo) if c.startswith("GET /git/trees/")]
        # the truncated listing, then only root, b and b/y: a, c and b/x are unchanged.
        assert len(walked) == 1 + 3
    finally:
        fake_github.configure(max_tree_entries=100_000)


async def test_blobs_come_once_each(
    fake_github: FakeGitHub, github_repo: str, client: GitHubClient
) -> None:
    fake_github.commit(github_repo, {"a.txt": "a", "b.txt": "b"})
    fake_github.reset_requests()
    shas = [git_blob_sha(b"a"), git_blob_sha(b"b"), git_blob_sha(b"a")]
    found = await fetch_blobs(client, github_repo, shas, concurrency=1)
    assert found == {git_blob_sha(b"a"): b"a", git_blob_sha(b"b"): b"b"}
    assert len(api_calls(fake_github, github_repo)) == 2


async def test_a_branch_of_an_empty_repository_is_empty_whatever_its_name(
    github_repo: str, client: GitHubClient, store
) -> None:
    assert await read_remote(client, store.db, github_repo, "develop", concurrency=1) == EMPTY


async def test_submodules_are_left_out(store) -> None:
    """GitHub lists a submodule as an entry of type "commit": it has no blob to sync."""
    commit, tree = "c" * 40, "t" * 40
    answers = {
        "/repos/o/r/git/ref/heads/main": {"object": {"sha": commit}},
        f"/repos/o/r/git/commits/{commit}": {"sha": commit, "tree": {"sha": tree}, "parents": []},
        f"/repos/o/r/git/trees/{tree}": {
            "sha": tree,
            "truncated": False,
            "tree": [
                {"path": "a.txt", "mode": "100644", "type": "blob", "sha": "a" * 40},
                {"path": "vendor", "mode": "160000", "type": "commit", "sha": "d" * 40},
            ],
        },
    }
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json=answers[r.url.path]))
    async with GitHubClient("https://api.example", "token", transport=transport) as gh:
        remote = await read_remote(gh, store.db, "o/r", "main", concurrency=1)
    assert remote.entries == {"a.txt": ("100644", "a" * 40)}
