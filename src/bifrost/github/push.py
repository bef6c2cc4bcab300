"""Pushing every local change as one commit through the Git Data API, never by force.

- Text files (UTF-8, no NUL, at most ``INLINE_MAX`` bytes) go inline in the tree call; a blob is
  created only for a binary or large file whose blob the branch does not already hold. So a push
  of text files costs 3 writes (tree, commit, ref) whatever their number.
- A tree call GitHub finds too large is split, each half laid on the tree of the one before: the
  commit is still one.
- The branch moves only by fast-forward. If someone pushed meanwhile (``NotFastForward``), the
  branch is read again: a path both changed is a conflict (:class:`PushConflict`, nothing
  pushed); otherwise the same entries are laid on the new head and tried again, a few times.
- ``before_ref`` is called with the commit about to be published, before the branch moves, so the
  caller can journal it (a crash after GitHub took it must not lose that it did).
- An empty repository takes no blob or tree: its first commit is one file through the contents
  API, and the rest follows as a normal commit on top of it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from bifrost.errors import Conflict, Unavailable
from bifrost.github.client import GitHubClient
from bifrost.github.errors import NotFastForward, Unprocessable
from bifrost.github.models import FILE_MODE, NewEntry
from bifrost.github.remote import RemoteTree
from bifrost.workspace.entities import git_blob_sha, is_binary

INLINE_MAX = 1024 * 1024  # bytes: text above this goes up as a blob
TRIES = 3  # commits built on a moved branch before giving up


@dataclass(frozen=True)
class Outgoing:
    """One path to change on the branch: ``content`` None deletes it."""

    path: str
    mode: str
    content: bytes | None

    @cached_property
    def sha(self) -> str | None:
        """Hashed once: a push reads it for its entries, its blob and its first commit."""
        return None if self.content is None else git_blob_sha(self.content)


@dataclass(frozen=True)
class Pushed:
    """The branch's new head and the blob SHA it gives each pushed path (None: deleted)."""

    commit_sha: str
    entries: dict[str, str | None]
    retried: int = 0  # times the branch moved and the commit was rebuilt on the new head


class PushConflict(Conflict):
    def __init__(self, paths: Sequence[str]) -> None:
        listed = ", ".join(paths)
        super().__init__(
            f"the branch moved during the sync and changed {listed}, which this sync changes "
            "too; nothing was pushed: run the sync again to see and resolve the conflicts"
        )
        self.paths = list(paths)


BeforeRef = Callable[[str, str | None, dict[str, str | None]], Awaitable[None]]
Progress = Callable[[int, int, str], Awaitable[None]]


@dataclass
class Push:
    client: GitHubClient
    repository: str
    branch: str
    message: str
    before_ref: BeforeRef
    reread: Callable[[], Awaitable[RemoteTree]]
    progress: Progress
    _blobs: dict[str, str] = field(default_factory=dict)  # created this push: sha -> sha

    async def run(self, remote: RemoteTree, outgoing: Sequence[Outgoing]) -> Pushed:
        """Publish ``outgoing`` on top of ``remote`` (the branch as the sync read it)."""
        entries = {item.path: item.sha for item in outgoing}
        if remote.commit_sha is None:
            remote, outgoing = await self._first_commit(outgoing)
            if not outgoing:
                assert remote.commit_sha is not None
                return Pushed(remote.commit_sha, entries)
        tree_entries = await self._entries(remote, outgoing)
        for attempt in range(TRIES):
            assert remote.commit_sha is not None and remote.tree_sha is not None
            tree = await self._tree(tree_entries, remote.tree_sha)
            commit = await self.client.create_commit(
                self.repository, message=self.message, tree=tree, parents=[remote.commit_sha]
            )
            await self.before_ref(commit, remote.commit_sha, entries)
            try:
                head = await self.client.update_ref(self.repository, self.branch, commit)
            except NotFastForward:
                moved = await self.reread()
                clashes = sorted(
                    path for path in entries if _sha(remote, path) != _sha(moved, path)
                )
                if clashes:
                    raise PushConflict(clashes) from None
                remote = moved
                tree_entries = [_delete_mode(e, remote) for e in tree_entries]
                continue
            return Pushed(head, entries, retried=attempt)
        raise Unavailable(
            f"the branch {self.branch} kept moving while the sync pushed ({TRIES} tries); "
            "nothing was pushed: run the sync again"
        )

    async def _first_commit(
        self, outgoing: Sequence[Outgoing]
    ) -> tuple[RemoteTree, list[Outgoing]]:
        """An empty repository: one file through the contents API (a plain file, if any, so
        its mode is right; one that would need a blob call, if any, so it saves that call),
        then the branch as that commit left it."""
        files = [item for item in outgoing if item.content is not None]
        plain = [item for item in files if item.mode == FILE_MODE] or files
        first = next((item for item in plain if not _inlined(item)), plain[0])
        assert first.content is not None and first.sha is not None
        sha = await self.client.put_contents(
            self.repository, first.path, first.content, message=self.message, branch=self.branch
        )
        await self.progress(1, len(outgoing), first.path)
        tree_sha = (await self.client.commit(self.repository, sha)).tree_sha
        remote = RemoteTree(sha, tree_sha, {first.path: (FILE_MODE, first.sha)})
        rest = [item for item in files if item is not first or item.mode != FILE_MODE]
        return remote, rest

    async def _entries(self, remote: RemoteTree, outgoing: Sequence[Outgoing]) -> list[NewEntry]:
        known = {sha for _, sha in remote.entries.values()}
        entries: list[NewEntry] = []
        for done, item in enumerate(outgoing, start=1):
            entries.append(await self._entry(item, remote, known))
            await self.progress(done, len(outgoing), item.path)
        return entries

    async def _entry(self, item: Outgoing, remote: RemoteTree, known: set[str]) -> NewEntry:
        if item.content is None:
            return NewEntry(item.path, mode=_remote_mode(remote, item.path), sha=None)
        if _inlined(item):
            return NewEntry(item.path, mode=item.mode, content=item.content.decode("utf-8"))
        sha = item.sha
        assert sha is not None
        if sha not in known and sha not in self._blobs:
            self._blobs[sha] = await self.client.create_blob(self.repository, item.content)
        return NewEntry(item.path, mode=item.mode, sha=sha)

    async def _tree(self, entries: list[NewEntry], base_tree: str) -> str:
        """One tree call, or halves chained on each other when GitHub finds it too large."""
        try:
            return await self.client.create_tree(self.repository, entries, base_tree=base_tree)
        except Unprocessable as exc:
            if len(entries) < 2 or "too large" not in exc.github_message.lower():
                raise
        middle = len(entries) // 2
        lower = await self._tree(entries[:middle], base_tree)
        return await self._tree(entries[middle:], lower)


def _inlined(item: Outgoing) -> bool:
    """Text GitHub can take inside the tree call (it stores the exact UTF-8 bytes)."""
    content = item.content
    return content is not None and len(content) <= INLINE_MAX and not is_binary(content)


def _sha(remote: RemoteTree, path: str) -> str | None:
    entry = remote.entries.get(path)
    return None if entry is None else entry[1]


def _remote_mode(remote: RemoteTree, path: str) -> str:
    entry = remote.entries.get(path)
    return FILE_MODE if entry is None else entry[0]


def _delete_mode(entry: NewEntry, remote: RemoteTree) -> NewEntry:
    """A deletion names the path's mode on the head it is laid on."""
    if not entry.deletes:
        return entry
    return NewEntry(entry.path, mode=_remote_mode(remote, entry.path), sha=None)
