"""The stored connection (``bifrost.store.github``), on both back ends: the token only sealed,
and another repository, another branch or a disconnect forgets every sync base, the remote
snapshot and the push journal, all in the transaction that changes the connection."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bifrost.errors import Inconsistent
from bifrost.secrets import SecretBox
from bifrost.store import github as connections
from bifrost.store.files import SetBase, Write
from bifrost.store.models import GitHubConnection, GitHubJournal, GitHubRemote, WorkspaceFile
from bifrost.workspace.entities import git_blob_sha

TOKEN = "ghp_storeTestToken0123456789abcdefghijkl"
BOX = SecretBox(b"a test key of thirty-two bytes!!")
PATHS = ("workflows/a.py", "notes/b.txt", "data/c.bin")


class Boom(Exception):
    pass


async def synced_workspace(ctx) -> None:
    """Files with bases, a remote snapshot and a journal: what a past sync leaves."""
    contents = {"workflows/a.py": b"x = 1\n", "notes/b.txt": b"b\n", "data/c.bin": b"\0\1"}
    await ctx.files.apply([Write(path, content) for path, content in contents.items()])
    await ctx.files.apply(
        [SetBase(path, git_blob_sha(content)) for path, content in contents.items()]
    )
    async with ctx.db.write() as session:
        session.add(GitHubRemote(id=1, commit_sha="c" * 40, tree_sha="t" * 40, entries={}))
        session.add(GitHubJournal(id="job-1", commit_sha="d" * 40, parent_sha="c" * 40))
        await connections.record_synced(session, "c" * 40)


async def sync_state(ctx) -> tuple[list[str | None], int, int]:
    async with ctx.db.read() as session:
        bases = (await session.scalars(select(WorkspaceFile.github_sha))).all()
        remotes = len((await session.scalars(select(GitHubRemote))).all())
        journals = len((await session.scalars(select(GitHubJournal))).all())
    return sorted(bases, key=str), remotes, journals


async def test_the_token_is_stored_sealed_and_loaded_hidden(store) -> None:
    assert await connections.load(store.db, BOX) is None
    saved = await connections.save(
        store.db, BOX, repository="octocat/hello", branch="main", token=TOKEN, user="admin"
    )
    assert (saved.repository, saved.branch, saved.token) == ("octocat/hello", "main", TOKEN)
    assert saved.connected_by == "admin" and saved.connected_at is not None
    assert saved.synced_commit is None
    assert TOKEN not in repr(saved)
    async with store.db.read() as session:
        row = await session.get(GitHubConnection, connections.CONNECTION_ID)
    assert TOKEN not in row.token_ciphertext and BOX.open(row.token_ciphertext) == TOKEN


@pytest.mark.parametrize(
    ("repository", "branch"), [("octocat/other", "main"), ("octocat/hello", "dev")]
)
async def test_another_repository_or_branch_forgets_every_base(
    store, repository: str, branch: str
) -> None:
    await connections.save(
        store.db, BOX, repository="octocat/hello", branch="main", token=TOKEN, user="admin"
    )
    await synced_workspace(store)
    await store.files.delete("notes/b.txt")  # a soft-deleted row keeps its base too
    bases, remotes, journals = await sync_state(store)
    assert all(bases) and len(bases) == len(PATHS) and (remotes, journals) == (1, 1)

    # the same repository and branch with a new token (a rotation): the bases still hold
    rotated = await connections.save(
        store.db, BOX, repository="octocat/hello", branch="main", token=TOKEN + "2", user="ops"
    )
    assert rotated.token == TOKEN + "2" and rotated.synced_commit == "c" * 40
    assert (await sync_state(store))[1:] == (1, 1)

    moved = await connections.save(
        store.db, BOX, repository=repository, branch=branch, token=TOKEN, user="admin"
    )
    assert (moved.repository, moved.branch) == (repository, branch)
    assert moved.synced_commit is None and moved.synced_at is None
    assert await sync_state(store) == ([None] * len(PATHS), 0, 0)


async def test_disconnect_forgets_the_connection_and_every_base(store) -> None:
    assert await connections.disconnect(store.db) is False
    await connections.save(
        store.db, BOX, repository="octocat/hello", branch="main", token=TOKEN, user="admin"
    )
    await synced_workspace(store)
    assert await connections.disconnect(store.db) is True
    assert await connections.load(store.db, BOX) is None
    assert await sync_state(store) == ([None] * len(PATHS), 0, 0)


async def test_a_failed_move_or_disconnect_changes_nothing(store, monkeypatch) -> None:
    """Forgetting runs first; a failure after it must undo it: one transaction."""
    await connections.save(
        store.db, BOX, repository="octocat/hello", branch="main", token=TOKEN, user="admin"
    )
    await synced_workspace(store)
    before = await sync_state(store)
    real = connections.forget_sync_state

    async def forget_then_fail(session) -> None:
        await real(session)
        await session.flush()  # the deletes reach the database before the failure
        raise Boom

    monkeypatch.setattr(connections, "forget_sync_state", forget_then_fail)
    with pytest.raises(Boom):
        await connections.save(
            store.db, BOX, repository="octocat/other", branch="main", token=TOKEN, user="x"
        )
    with pytest.raises(Boom):
        await connections.disconnect(store.db)
    assert await sync_state(store) == before
    kept = await connections.load(store.db, BOX)
    assert kept is not None and kept.repository == "octocat/hello"
    assert kept.synced_commit == "c" * 40


async def test_after_a_key_change_connecting_again_recovers(store) -> None:
    """The old ciphertext says which setting to fix; a new configure (or disconnect) needs no
    old secret."""
    await connections.save(
        store.db, BOX, repository="octocat/hello", branch="main", token=TOKEN, user="admin"
    )
    other = SecretBox(b"the new key, after a restore!!!!")
    with pytest.raises(Inconsistent, match="BIFROST_SECRET_KEY") as refused:
        await connections.load(store.db, other)
    assert TOKEN not in str(refused.value)
    again = await connections.save(
        store.db, other, repository="octocat/hello", branch="main", token=TOKEN, user="admin"
    )
    assert again.token == TOKEN and (await connections.load(store.db, other)).token == TOKEN
    assert await connections.disconnect(store.db) is True
