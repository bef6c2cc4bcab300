"""Where an old workspace is read from: a directory on disk, or an S3 prefix (the synced-directory
deployments kept the workspace in ``s3://bucket/_repo/`` and mirrored it to every worker).

A source lists its files as workspace paths (``/``-separated, relative to its root) and reads
them; what is not workspace content (``.git``, caches, virtual environments, compiled files) is
left out and counted, never listed. Both are blocking (file system, botocore): callers run them
in threads.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bifrost.errors import InvalidInput
from bifrost.settings import Settings
from bifrost.store.s3 import parse_url, s3_client, translated

# Directories that hold no workspace content: version control, caches, virtual environments.
LEFT_OUT_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".venv",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".cache",
        ".ipynb_checkpoints",
        "node_modules",
    }
)
LEFT_OUT_SUFFIXES = (".pyc", ".pyo")
LEFT_OUT_NAMES = frozenset({".DS_Store", "Thumbs.db"})
VENV_MARKER = "pyvenv.cfg"  # a virtual environment under any name (venv/, env/)
S3_READERS = 32


@dataclass(frozen=True)
class Entry:
    """One file of the source; ``problem`` says why it cannot be imported before reading it."""

    path: str
    size: int
    executable: bool = False
    problem: str | None = None


class Source(Protocol):
    readers: int  # how many reads to run at once
    # What was left out, by the directory or kind that caused it: on disk a directory counts
    # once (it is never walked: a .venv holds thousands of files), on S3 each object counts.
    left_out: Counter[str]

    def describe(self) -> str: ...

    def entries(self) -> Iterator[Entry]: ...

    def read(self, path: str) -> bytes: ...


def left_out(path: str) -> str | None:
    """Why ``path`` is not workspace content (the directory or kind), or None."""
    *dirs, name = path.split("/")
    for part in dirs:
        if part in LEFT_OUT_DIRS:
            return part
    if name.endswith(LEFT_OUT_SUFFIXES):
        return "*.pyc"
    if name in LEFT_OUT_NAMES:
        return name
    return None


class DirectorySource:
    """A directory on disk (a worker's ``/tmp/bifrost/workspace``, a checkout, an export)."""

    readers = 8  # files read at once

    def __init__(self, root: Path) -> None:
        self.root = root
        self.left_out: Counter[str] = Counter()
        if not root.is_dir():
            raise InvalidInput(f"{root} is not a directory: give the workspace's root directory")

    def describe(self) -> str:
        return str(self.root)

    def entries(self) -> Iterator[Entry]:
        for current, dirs, files in os.walk(self.root, followlinks=False):
            here = Path(current)
            relative = here.relative_to(self.root).as_posix()
            prefix = "" if relative == "." else relative + "/"
            for name in list(dirs):
                inside = here / name
                if name in LEFT_OUT_DIRS or (inside / VENV_MARKER).is_file():
                    self.left_out[name if name in LEFT_OUT_DIRS else "virtual environment"] += 1
                    dirs.remove(name)
                elif inside.is_symlink():
                    dirs.remove(name)
                    yield Entry(prefix + name, 0, problem="a link to a directory (not followed)")
            for name in sorted(files):
                path = prefix + name
                why = left_out(path)
                if why is not None:
                    self.left_out[why] += 1
                    continue
                yield self._entry(here / name, path)

    def _entry(self, file: Path, path: str) -> Entry:
        info = file.lstat()
        if stat.S_ISLNK(info.st_mode):
            return Entry(path, 0, problem="a symbolic link (not followed: it may point anywhere)")
        if not stat.S_ISREG(info.st_mode):
            return Entry(path, 0, problem="not a regular file")
        return Entry(path, info.st_size, executable=bool(info.st_mode & stat.S_IXUSR))

    def read(self, path: str) -> bytes:
        return (self.root / path).read_bytes()


class S3Source:
    """Every object under ``s3://bucket/prefix/``, keys relative to the prefix."""

    readers = S3_READERS  # objects read at once: each GET waits on a round trip

    def __init__(self, url: str, client: Any) -> None:
        self.bucket, self.prefix = parse_url(url)
        self.client = client
        self.left_out: Counter[str] = Counter()

    @classmethod
    def from_settings(cls, settings: Settings, url: str) -> S3Source:
        """BIFROST_S3_* first, then the object store's settings, then the AWS chain."""
        client = s3_client(
            settings.s3_endpoint_url or settings.object_store_endpoint_url,
            settings.s3_region or settings.object_store_region,
            settings.s3_access_key_id or settings.object_store_access_key_id,
            settings.s3_secret_access_key or settings.object_store_secret_access_key,
            connections=S3_READERS,
        )
        return cls(url, client)

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def entries(self) -> Iterator[Entry]:
        with translated(self.describe(), "list the workspace"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    path = item["Key"][len(self.prefix) :]
                    if not path or path.endswith("/"):  # folder markers some tools write
                        continue
                    why = left_out(path)
                    if why is not None:
                        self.left_out[why] += 1
                        continue
                    yield Entry(path, int(item["Size"]))

    def read(self, path: str) -> bytes:
        with translated(self.describe(), f"read {path}"):
            body = self.client.get_object(Bucket=self.bucket, Key=self.prefix + path)["Body"]
            try:
                return body.read()
            finally:
                body.close()


def open_source(settings: Settings, where: str) -> Source:
    """``s3://bucket/prefix`` or a directory."""
    if where.startswith("s3://"):
        bucket = where.removeprefix("s3://").partition("/")[0]
        if not bucket:
            raise InvalidInput("write the S3 source as s3://bucket/prefix")
        return S3Source.from_settings(settings, where)
    if "://" in where:
        raise InvalidInput(f"{where}: give a directory or an s3://bucket/prefix URL")
    return DirectorySource(Path(where))
