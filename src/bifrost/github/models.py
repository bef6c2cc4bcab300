"""The shapes the GitHub client returns and takes: plain frozen dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

BLOB = "blob"
TREE = "tree"
SUBMODULE = "commit"

FILE_MODE = "100644"
EXECUTABLE_MODE = "100755"
SYMLINK_MODE = "120000"


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; ``next_page`` comes from GitHub's ``link: rel="next"``."""

    items: list[T]
    next_page: int | None = None


@dataclass(frozen=True)
class Viewer:
    """Who the token belongs to; ``scopes`` only for classic tokens (``x-oauth-scopes``)."""

    login: str
    scopes: list[str] | None = None


@dataclass(frozen=True)
class Repository:
    full_name: str  # owner/name
    default_branch: str | None
    private: bool
    can_push: bool
    html_url: str | None = None


@dataclass(frozen=True)
class Branch:
    name: str
    sha: str


@dataclass(frozen=True)
class CommitSummary:
    sha: str
    message: str
    author: str | None
    date: str | None  # ISO 8601, as GitHub gives it
    html_url: str | None = None


@dataclass(frozen=True)
class Head:
    """The branch's head commit, and the ETag to send next time (``If-None-Match``)."""

    sha: str
    etag: str | None


@dataclass(frozen=True)
class NotModified:
    """The ref read answered 304: the branch is where the ETag said."""

    etag: str | None


@dataclass(frozen=True)
class Commit:
    sha: str
    tree_sha: str
    parents: list[str] = field(default_factory=list)
    message: str = ""


@dataclass(frozen=True)
class TreeEntry:
    path: str
    mode: str
    type: str  # blob | tree | commit (a submodule)
    sha: str
    size: int | None = None


@dataclass(frozen=True)
class Tree:
    sha: str
    entries: list[TreeEntry]
    truncated: bool = False


@dataclass(frozen=True)
class NewEntry:
    """One entry of a tree to create on a base tree: ``content`` (UTF-8 text, GitHub makes the
    blob), ``sha`` (an existing blob) or neither (``sha: null``: delete the path)."""

    path: str
    mode: str = FILE_MODE
    sha: str | None = None
    content: str | None = None

    @property
    def deletes(self) -> bool:
        return self.sha is None and self.content is None
