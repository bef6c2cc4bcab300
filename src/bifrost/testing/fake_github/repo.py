"""The fake's repositories: bare dulwich repositories, so every SHA is the one git would compute
and anything written here can be read back by git itself."""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dulwich.objects import Blob, Commit, ShaFile, Tree
from dulwich.repo import BaseRepo, MemoryRepo, Repo

from bifrost.testing.fake_github.errors import empty, invalid, not_found

TREE_MODE = 0o040000
SUBMODULE_MODE = 0o160000
SYMLINK_MODE = 0o120000
EXECUTABLE_MODE = 0o100755
FILE_MODE = 0o100644
MODES = {FILE_MODE, EXECUTABLE_MODE, SYMLINK_MODE, SUBMODULE_MODE, TREE_MODE}
META_FILE = "fake-github.json"
EMPTY_TREE = Tree().id.decode()


def mode_text(mode: int) -> str:
    return f"{mode:06o}"


def kind_of(mode: int) -> str:
    if mode == TREE_MODE:
        return "tree"
    return "commit" if mode == SUBMODULE_MODE else "blob"


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@dataclass(frozen=True)
class Person:
    """An author or committer line of a commit."""

    name: str
    email: str
    time: int = field(default_factory=lambda: int(time.time()))

    def line(self) -> bytes:
        return f"{self.name} <{self.email}>".encode()

    @classmethod
    def of(cls, line: bytes, ts: int) -> Person:
        name, _, email = line.decode(errors="replace").partition(" <")
        return cls(name, email.rstrip(">"), ts)


@dataclass
class Meta:
    """What GitHub knows about a repository besides its git objects."""

    id: int
    owner: str
    name: str
    owner_type: str  # User | Organization
    private: bool
    description: str
    default_branch: str
    created_at: str
    updated_at: str
    pushed_at: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class Entry:
    """One entry of a tree listing, with its path from the listed tree."""

    path: str
    mode: int
    sha: str
    size: int | None


# A tree change: (mode, sha) puts an object at the path, None deletes it.
Change = tuple[int, str] | None
# A file of a teammate's commit: (mode, bytes), or None to delete.
FileChange = tuple[int, bytes] | None


class GitRepo:
    """One repository. Mutations hold ``lock``: the ref checks and moves are atomic."""

    def __init__(self, meta: Meta, git: BaseRepo, meta_path: Path | None) -> None:
        self.meta = meta
        self.git = git
        self.lock = threading.RLock()
        self.races: dict[str, tuple[dict[str, FileChange], str]] = {}
        self._meta_path = meta_path
        self._sizes: dict[str, int] = {}

    # -- reading ---------------------------------------------------------------------------
    def heads(self) -> dict[str, str]:
        refs = self.git.refs.as_dict(b"refs/heads")
        return {name.decode(): sha.decode() for name, sha in sorted(refs.items())}

    def head(self, branch: str) -> str | None:
        sha = self.git.refs.as_dict(b"refs/heads").get(branch.encode())
        return sha.decode() if sha else None

    def is_empty(self) -> bool:
        return not self.git.refs.as_dict(b"refs/heads")

    def require_content(self) -> None:
        if self.is_empty():
            raise empty()

    def get(self, sha: str, kind: type[ShaFile]) -> ShaFile:
        """The object ``sha`` of type ``kind``, else 404 (GitHub's answer to both)."""
        if len(sha) != 40:
            raise not_found()
        try:
            obj = self.git.object_store[sha.encode()]
        except (KeyError, ValueError):
            raise not_found() from None
        if not isinstance(obj, kind):
            raise not_found()
        return obj

    def get_commit(self, sha: str) -> Commit:
        commit = self.get(sha, Commit)
        assert isinstance(commit, Commit)
        return commit

    def has(self, sha: str, kind: type[ShaFile]) -> bool:
        try:
            self.get(sha, kind)
        except Exception:
            return False
        return True

    def resolve(self, ref: str) -> str | None:
        """A commit SHA for a branch name, ``refs/heads/x`` or a commit SHA."""
        branch = ref.removeprefix("refs/heads/")
        head = self.head(branch)
        if head:
            return head
        return ref if self.has(ref, Commit) else None

    def tree_of(self, ref: str) -> str:
        """A tree SHA for a tree SHA, a commit SHA or a branch (GitHub takes any tree-ish)."""
        if self.has(ref, Tree):
            return ref
        commit = self.resolve(ref)
        if commit is None:
            raise not_found()
        return self.get(commit, Commit).tree.decode()

    def size(self, sha: str) -> int:
        if sha not in self._sizes:
            self._sizes[sha] = self.get(sha, Blob).raw_length()
        return self._sizes[sha]

    def walk(self, tree_sha: str, *, recursive: bool, prefix: str = "") -> Iterator[Entry]:
        """Tree entries in git's order; subtrees before their contents when recursive."""
        tree = self.get(tree_sha, Tree)
        for item in tree.items():
            path = prefix + item.path.decode(errors="surrogateescape")
            sha = item.sha.decode()
            size = self.size(sha) if kind_of(item.mode) == "blob" else None
            yield Entry(path, item.mode, sha, size)
            if recursive and item.mode == TREE_MODE:
                yield from self.walk(sha, recursive=True, prefix=path + "/")

    def lookup(self, commit_sha: str, path: str) -> tuple[int, str] | None:
        tree = self.get(self.get(commit_sha, Commit).tree.decode(), Tree)
        try:
            mode, sha = tree.lookup_path(self.git.object_store.__getitem__, path.encode())
        except KeyError:
            return None
        return mode, sha.decode()

    def is_ancestor(self, ancestor: str, of: str) -> bool:
        seen: set[str] = set()
        todo = [of]
        while todo:
            sha = todo.pop()
            if sha == ancestor:
                return True
            if sha in seen:
                continue
            seen.add(sha)
            todo.extend(p.decode() for p in self.get(sha, Commit).parents)
        return False

    def log(self, start: str, *, skip: int, limit: int) -> tuple[list[Commit], bool]:
        """Commits reachable from ``start``, newest first; and whether more follow."""
        walker = self.git.get_walker(include=[start.encode()])
        out: list[Commit] = []
        for i, walked in enumerate(walker):
            if i < skip:
                continue
            if len(out) == limit:
                return out, True
            out.append(walked.commit)
        return out, False

    def snapshot(self, commit_sha: str) -> dict[str, tuple[int, str, bytes]]:
        """Every file of a commit: path -> (mode, blob sha, bytes); submodules left out."""
        tree = self.get(commit_sha, Commit).tree.decode()
        return {
            e.path: (e.mode, e.sha, self.get(e.sha, Blob).as_raw_string())
            for e in self.walk(tree, recursive=True)
            if kind_of(e.mode) == "blob"
        }

    def tarball(self, commit_sha: str) -> bytes:
        """A gzip tar of the commit as GitHub's codeload serves it: one top folder
        ``owner-repo-sha7/``, git archive's modes, symlinks as links, no checkout."""
        commit = self.get(commit_sha, Commit)
        top = f"{self.meta.owner}-{self.meta.name}-{commit_sha[:7]}/"
        out = io.BytesIO()
        with tarfile.open(
            fileobj=out,
            mode="w:gz",
            format=tarfile.PAX_FORMAT,
            compresslevel=6,
            pax_headers={"comment": commit_sha},
        ) as tar:
            tar.addfile(_tar_info(top, tarfile.DIRTYPE, 0o775, commit.commit_time))
            for e in self.walk(commit.tree.decode(), recursive=True):
                name = top + e.path
                if e.mode in (TREE_MODE, SUBMODULE_MODE):
                    tar.addfile(_tar_info(name + "/", tarfile.DIRTYPE, 0o775, commit.commit_time))
                    continue
                data = self.get(e.sha, Blob).as_raw_string()
                if e.mode == SYMLINK_MODE:
                    info = _tar_info(name, tarfile.SYMTYPE, 0o777, commit.commit_time)
                    info.linkname = data.decode(errors="surrogateescape")
                    tar.addfile(info)
                    continue
                perm = 0o775 if e.mode == EXECUTABLE_MODE else 0o664
                info = _tar_info(name, tarfile.REGTYPE, perm, commit.commit_time)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return out.getvalue()

    # -- writing ---------------------------------------------------------------------------
    def add_blob(self, data: bytes) -> str:
        blob = Blob.from_string(data)
        with self.lock:
            self.git.object_store.add_object(blob)
        sha = blob.id.decode()
        self._sizes[sha] = len(data)
        return sha

    def add_tree(self, changes: Mapping[str, Change], base: str | None) -> str:
        """A new tree: ``base`` (or nothing) with ``changes`` applied at nested paths; a deleted
        path must exist (422), directories left empty disappear as in git."""
        with self.lock:
            base_tree = self.get(base, Tree) if base else None
            sha = self._overlay(base_tree, dict(changes), "")
            return sha or self._store(Tree())

    def _overlay(self, base: Tree | None, changes: dict[str, Change], prefix: str) -> str | None:
        entries = {i.path.decode(): (i.mode, i.sha.decode()) for i in base.items()} if base else {}
        nested: dict[str, dict[str, Change]] = {}
        for path, change in changes.items():
            name, _, rest = path.partition("/")
            if rest:
                nested.setdefault(name, {})[rest] = change
            elif change is None:
                if name not in entries:
                    raise invalid(f"GitRPC::BadObjectState: {prefix}{name} does not exist")
                del entries[name]
            else:
                entries[name] = change
        for name, sub in nested.items():
            if name in changes:
                raise invalid(f"tree.path {prefix}{name} is given both as a file and a folder")
            current = entries.get(name)
            sub_base = self.get(current[1], Tree) if current and current[0] == TREE_MODE else None
            sha = self._overlay(sub_base, sub, f"{prefix}{name}/")
            if sha is None:
                entries.pop(name, None)
            else:
                entries[name] = (TREE_MODE, sha)
        if not entries:
            return None
        tree = Tree()
        for name, (mode, sha) in entries.items():
            tree.add(name.encode(), mode, sha.encode())
        return self._store(tree)

    def _store(self, obj: ShaFile) -> str:
        self.git.object_store.add_object(obj)
        return obj.id.decode()

    def add_commit(
        self, message: str, tree: str, parents: list[str], author: Person, committer: Person
    ) -> str:
        commit = Commit()
        commit.tree = tree.encode()
        commit.parents = [p.encode() for p in parents]
        commit.author, commit.author_time, commit.author_timezone = author.line(), author.time, 0
        commit.committer = committer.line()
        commit.commit_time, commit.commit_timezone = committer.time, 0
        commit.message = message.encode()
        with self.lock:
            return self._store(commit)

    def update_ref(self, branch: str, sha: str, *, force: bool) -> None:
        """Move a branch as ``PATCH /git/refs`` does; a teammate's race commit lands first."""
        with self.lock:
            race = self.races.pop(branch, None)
            if race is not None:
                self.commit_files(branch, race[0], race[1], TEAMMATE)
            old = self.head(branch)
            if old is None:
                raise invalid("Reference does not exist")
            if not force and not self.is_ancestor(old, sha):
                raise invalid("Update is not a fast forward")
            self._set_head(branch, sha)

    def create_ref(self, branch: str, sha: str) -> None:
        with self.lock:
            if self.head(branch) is not None:
                raise invalid("Reference already exists")
            self._set_head(branch, sha)

    def _set_head(self, branch: str, sha: str) -> None:
        self.git.refs[f"refs/heads/{branch}".encode()] = sha.encode()
        self.meta.pushed_at = self.meta.updated_at = iso(time.time())
        self.save_meta()

    def commit_files(
        self, branch: str, files: Mapping[str, FileChange], message: str, author: Person
    ) -> str:
        """Commit ``files`` on ``branch`` (made if the repository is empty) as someone pushing."""
        with self.lock:
            parent = self.head(branch)
            if parent is None and not self.is_empty():
                raise not_found(f"Branch {branch} not found")
            base = self.get(parent, Commit).tree.decode() if parent else None
            changes: dict[str, Change] = {
                path: None if f is None else (f[0], self.add_blob(f[1]))
                for path, f in files.items()
            }
            tree = self.add_tree(changes, base)
            sha = self.add_commit(message, tree, [parent] if parent else [], author, author)
            self._set_head(branch, sha)
            return sha

    def save_meta(self) -> None:
        if self._meta_path is not None:
            self._meta_path.write_text(json.dumps(asdict(self.meta)))


TEAMMATE = Person("Teammate", "teammate@example.com")


def _tar_info(name: str, kind: bytes, mode: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, mtime
    info.uname = info.gname = "root"
    return info


class Store:
    """Every repository, on disk under ``data_dir/owner/name.git`` or in memory."""

    def __init__(self, data_dir: Path | None) -> None:
        self.data_dir = data_dir
        self.lock = threading.Lock()
        self._repos: dict[str, GitRepo] = {}
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
            for meta_path in sorted(data_dir.glob(f"*/*.git/{META_FILE}")):
                meta = Meta(**json.loads(meta_path.read_text()))
                repo = GitRepo(meta, Repo(str(meta_path.parent)), meta_path)
                self._repos[meta.full_name.lower()] = repo

    def get(self, full_name: str) -> GitRepo | None:
        return self._repos.get(full_name.lower())

    def all(self) -> list[GitRepo]:
        return list(self._repos.values())

    def create(
        self,
        owner: str,
        name: str,
        *,
        owner_type: str = "User",
        private: bool = True,
        description: str = "",
        default_branch: str = "main",
    ) -> GitRepo:
        """A new empty repository; 422 as GitHub answers if the name is taken."""
        with self.lock:
            if self.get(f"{owner}/{name}") is not None:
                raise invalid_name("name already exists on this account")
            now = iso(time.time())
            meta = Meta(
                id=len(self._repos) + 1,
                owner=owner,
                name=name,
                owner_type=owner_type,
                private=private,
                description=description,
                default_branch=default_branch,
                created_at=now,
                updated_at=now,
            )
            if self.data_dir is None:
                git: BaseRepo = MemoryRepo.init_bare([], {})
                meta_path = None
            else:
                path = self.data_dir / owner / f"{name}.git"
                path.parent.mkdir(exist_ok=True)
                git = Repo.init_bare(str(path), mkdir=True)
                meta_path = path / META_FILE
            git.refs.set_symbolic_ref(b"HEAD", f"refs/heads/{default_branch}".encode())
            repo = GitRepo(meta, git, meta_path)
            repo.save_meta()
            self._repos[meta.full_name.lower()] = repo
            return repo


def invalid_name(message: str):
    error = invalid("Repository creation failed.")
    error.errors = [
        {"resource": "Repository", "code": "custom", "field": "name", "message": message}
    ]
    return error
