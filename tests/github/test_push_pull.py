"""The push and the pull's fetch on their own, against the fake GitHub (no Bifrost server)."""

from __future__ import annotations

import io
import tarfile
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bifrost.github.client import GitHubClient
from bifrost.github.pull import TARBALL_FROM, fetch_contents, members
from bifrost.github.push import Outgoing, Push, PushConflict
from bifrost.github.remote import EMPTY, RemoteTree
from bifrost.testing.fake_github.control import FakeGitHub
from bifrost.workspace.entities import git_blob_sha


class Sleeps:
    async def __call__(self, seconds: float) -> None:
        return None


@pytest.fixture
async def gh(fake_github: FakeGitHub) -> AsyncIterator[GitHubClient]:
    async with GitHubClient(fake_github.url, fake_github.token, sleep=Sleeps()) as client:
        yield client


async def remote_of(gh: GitHubClient, repository: str) -> RemoteTree:
    head = await gh.head(repository, "main")
    if head is None:
        return EMPTY
    commit = await gh.commit(repository, head.sha)  # type: ignore[union-attr]
    tree = await gh.tree(repository, commit.tree_sha)
    entries = {e.path: (e.mode, e.sha) for e in tree.entries if e.type == "blob"}
    return RemoteTree(commit.sha, commit.tree_sha, entries)


def pusher(gh: GitHubClient, repository: str, journal: list[Any]) -> Push:
    async def before_ref(commit: str, parent: str | None, entries: dict) -> None:
        journal.append((commit, parent, entries))

    async def progress(done: int, total: int, path: str) -> None:
        return None

    return Push(
        gh,
        repository,
        "main",
        message="test",
        before_ref=before_ref,
        reread=lambda: remote_of(gh, repository),
        progress=progress,
    )


async def test_a_tree_too_large_is_split_into_one_commit(
    gh: GitHubClient, fake_github: FakeGitHub, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"keep.txt": "keep\n"})
    outgoing = [Outgoing(f"f{i}.txt", "100644", f"file {i}\n".encode() * 20) for i in range(8)]
    fake_github.configure(max_tree_bytes=600)
    try:
        journal: list[Any] = []
        pushed = await pusher(gh, github_repo, journal).run(
            await remote_of(gh, github_repo), outgoing
        )
    finally:
        fake_github.configure(max_tree_bytes=0)
    files = fake_github.files(github_repo)
    assert sorted(files) == sorted(["keep.txt", *(o.path for o in outgoing)])
    assert gh.calls["POST /git/trees"] > 2 and gh.calls["POST /git/commits"] == 1
    assert (await gh.commit(github_repo, pushed.commit_sha)).parents == [journal[0][1]]
    assert journal[0][0] == pushed.commit_sha  # journalled before the ref moved


async def test_a_race_on_a_pushed_path_pushes_nothing(
    gh: GitHubClient, fake_github: FakeGitHub, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"a.txt": "a\n"})
    remote = await remote_of(gh, github_repo)
    fake_github.race(github_repo, {"a.txt": "theirs\n"})
    with pytest.raises(PushConflict, match=r"a\.txt"):
        await pusher(gh, github_repo, []).run(remote, [Outgoing("a.txt", "100644", b"ours\n")])
    assert fake_github.files(github_repo)["a.txt"].content == b"theirs\n"


async def test_the_first_push_of_executable_files_only(
    gh: GitHubClient, fake_github: FakeGitHub, github_repo: str
) -> None:
    outgoing = [Outgoing("run.sh", "100755", b"echo hi\n")]
    await pusher(gh, github_repo, []).run(EMPTY, outgoing)
    assert fake_github.files(github_repo)["run.sh"].mode == "100755"


async def test_many_files_come_in_one_tarball(
    gh: GitHubClient, fake_github: FakeGitHub, github_repo: str
) -> None:
    there = {f"d/f{i}.txt": f"{i}\n" for i in range(TARBALL_FROM)}
    head = fake_github.commit(github_repo, there)
    wanted = {path: git_blob_sha(text.encode()) for path, text in there.items()}
    seen: list[int] = []

    async def progress(done: int, total: int, path: str) -> None:
        seen.append(done)

    found = await fetch_contents(gh, github_repo, head, wanted, concurrency=4, progress=progress)
    assert found == {path: text.encode() for path, text in there.items()}
    assert gh.calls["GET /tarball"] == 1 and gh.calls["GET /git/blobs"] == 0
    assert seen == list(range(1, TARBALL_FROM + 1))


def test_tarball_members_that_do_not_match_their_sha_are_left_out() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in (("good.txt", b"good\n"), ("changed.txt", b"$Format:%H$ subst\n")):
            info = tarfile.TarInfo(f"owner-repo-abc1234/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        link = tarfile.TarInfo("owner-repo-abc1234/link")
        link.type, link.linkname = tarfile.SYMTYPE, "good.txt"
        tar.addfile(link)
    wanted = {
        "good.txt": git_blob_sha(b"good\n"),
        "changed.txt": git_blob_sha(b"the original\n"),
        "link": git_blob_sha(b"good.txt"),
        "missing.txt": git_blob_sha(b"x"),
    }
    assert members(buffer.getvalue(), wanted) == {"good.txt": b"good\n", "link": b"good.txt"}
