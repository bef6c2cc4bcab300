"""Reading the branch: its head commit and every file on it, in as few calls as GitHub allows.

- The ref is read with the stored snapshot's ETag: a 304 means the branch has not moved, and the
  snapshot is the answer (1 call, which costs no rate limit).
- Otherwise the head commit and its recursive tree: 3 calls, whatever the size of the repository.
- A listing GitHub truncated is replaced by a walk of non-recursive listings that descends only
  into subtrees whose SHA differs from the snapshot's (trees are immutable, so an unchanged SHA is
  an unchanged subtree): one call per changed directory.

An empty repository (GitHub answers 409; no branch exists there yet) is an empty remote with no
head. Symlinks (mode 120000) are blobs holding their target, kept with their mode like any file;
submodules (entries of type ``commit``) have no blob to sync and are left out. The snapshot
(with the new ETag) is saved only after the whole read succeeded.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from bifrost.errors import Inconsistent
from bifrost.github.client import GitHubClient
from bifrost.github.models import BLOB, TREE, NotModified, TreeEntry
from bifrost.store import github_state
from bifrost.store.db import Database
from bifrost.store.github_state import RemoteSnapshot

T = TypeVar("T")

TREE_MODE = "040000"

Entries = dict[str, tuple[str, str]]  # path -> (mode, sha)


@dataclass(frozen=True)
class RemoteTree:
    """The branch's files: ``entries`` maps each blob path to ``(mode, sha)``; ``commit_sha`` is
    None for an empty repository."""

    commit_sha: str | None
    tree_sha: str | None
    entries: Entries

    @property
    def blobs(self) -> dict[str, str]:
        """path -> blob SHA, the plan's ``remote`` map."""
        return {path: sha for path, (_, sha) in self.entries.items()}


EMPTY = RemoteTree(commit_sha=None, tree_sha=None, entries={})


async def read_remote(
    client: GitHubClient, db: Database, repository: str, branch: str, *, concurrency: int
) -> RemoteTree:
    """The branch as it is now; ``concurrency`` bounds the tree listings of a walk in flight."""
    stored = await github_state.load_snapshot(db)
    head = await client.head(repository, branch, etag=stored.etag if stored else None)
    if head is None:
        return EMPTY
    if isinstance(head, NotModified):
        if stored is None:
            raise Inconsistent("GitHub answered 304 to a ref read that sent no ETag; try again")
        return _remote(stored)
    if stored is not None and stored.commit_sha == head.sha:
        snapshot = replace(stored, etag=head.etag)  # same commit, another ETag
    else:
        commit = await client.commit(repository, head.sha)
        previous = stored.entries if stored is not None else {}
        if stored is not None and stored.tree_sha == commit.tree_sha:
            entries = previous
        else:
            entries = await _listing(client, repository, commit.tree_sha, previous, concurrency)
        snapshot = RemoteSnapshot(head.sha, commit.tree_sha, head.etag, entries)
    if snapshot != stored:
        await github_state.save_snapshot(db, snapshot)
    return _remote(snapshot)


def _remote(snapshot: RemoteSnapshot) -> RemoteTree:
    return RemoteTree(
        commit_sha=snapshot.commit_sha,
        tree_sha=snapshot.tree_sha,
        entries={p: entry for p, entry in snapshot.entries.items() if entry[0] != TREE_MODE},
    )


async def _listing(
    client: GitHubClient, repository: str, tree_sha: str, previous: Entries, concurrency: int
) -> Entries:
    tree = await client.tree(repository, tree_sha, recursive=True)
    if not tree.truncated:
        return dict(_entries(tree.entries, prefix=""))
    return await _Walk(client, repository, previous, concurrency).tree(tree_sha, prefix="")


def _entries(entries: Iterable[TreeEntry], *, prefix: str) -> Iterable[tuple[str, tuple[str, str]]]:
    """Blobs with their mode and trees with ``TREE_MODE``; submodules left out."""
    for entry in entries:
        if entry.type == TREE:
            yield prefix + entry.path, (TREE_MODE, entry.sha)
        elif entry.type == BLOB:
            yield prefix + entry.path, (entry.mode, entry.sha)


class _Walk:
    """A walk of one tree, level by level, that copies unchanged subtrees from ``previous``."""

    def __init__(
        self, client: GitHubClient, repository: str, previous: Entries, concurrency: int
    ) -> None:
        self.client = client
        self.repository = repository
        self.previous = previous
        self.paths = sorted(previous)
        self.limit = asyncio.Semaphore(concurrency)

    async def tree(self, sha: str, *, prefix: str) -> Entries:
        async with self.limit:
            listing = await self.client.tree(self.repository, sha, recursive=False)
        found: Entries = {}
        changed: list[tuple[str, str]] = []
        for path, entry in _entries(listing.entries, prefix=prefix):
            found[path] = entry
            if entry[0] != TREE_MODE:
                continue
            if self.previous.get(path) == entry:
                found.update(self._under(path))
            else:
                changed.append((entry[1], path + "/"))
        for below in await _all([self.tree(s, prefix=p) for s, p in changed]):
            found.update(below)
        return found

    def _under(self, directory: str) -> Entries:
        """The previous entries below ``directory``: the sorted paths from ``directory/`` up to
        (not including) ``directory0``, since "0" follows "/"."""
        start = bisect_left(self.paths, directory + "/")
        end = bisect_left(self.paths, directory + "0", lo=start)
        return {path: self.previous[path] for path in self.paths[start:end]}


async def fetch_blobs(
    client: GitHubClient, repository: str, shas: Iterable[str], *, concurrency: int
) -> dict[str, bytes]:
    """sha -> bytes of each distinct blob (each checked against its SHA by the client), at most
    ``concurrency`` requests in flight; the first failure cancels the rest."""
    limit = asyncio.Semaphore(concurrency)

    async def one(sha: str) -> tuple[str, bytes]:
        async with limit:
            return sha, await client.blob(repository, sha)

    return dict(await _all([one(sha) for sha in sorted(set(shas))]))


async def _all(work: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Every result, or the first failure as it is (not wrapped), the rest cancelled."""
    tasks = [asyncio.ensure_future(item) for item in work]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
