"""Object store for binary and large files, addressed by sha256 so entries never change.

Two stores share one interface: a local directory (the default, :class:`LocalObjectStore`) and an
S3-compatible bucket (:mod:`bifrost.store.s3`, chosen by ``BIFROST_OBJECT_STORE=s3://...``). Their
methods block (disk or network), so callers run them in a thread; :func:`load` is the one read the
rest of the store uses: it checks the bytes against their hash and names the workspace path when
anything is wrong.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bifrost.errors import Inconsistent
from bifrost.settings import Settings

SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StoredObject:
    sha256: str
    size: int
    modified: float  # seconds since the epoch: when it was last written


class ObjectStore(Protocol):
    def put(self, sha256: str, content: bytes) -> None:
        """Store ``content`` under its hash; writing an existing object again refreshes its
        modification time, so a collection that started before this write keeps it."""

    def get(self, sha256: str) -> bytes | None:
        """The stored bytes, or None if there is no such object (unchecked: see :func:`load`)."""

    def modified(self, sha256: str) -> float | None:
        """When the object was last written, or None if there is none."""

    def delete(self, sha256: str) -> None: ...

    def scan(self) -> Iterator[StoredObject]:
        """Every object in the store, in no particular order."""

    def describe(self) -> str:
        """Where the objects are, for messages (never a credential)."""


def check_sha256(sha256: str) -> str:
    if not SHA256.fullmatch(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return sha256


def verified(objects: ObjectStore, sha256: str, path: str) -> bytes:
    """The object's bytes, or Inconsistent naming ``path`` if it is missing or does not hash to
    its key: a row's content is never served wrong."""
    content = objects.get(sha256)
    if content is None:
        raise Inconsistent(
            f"the content of {path} (object {sha256}) is missing from the object store "
            f"{objects.describe()}; restore it from a backup or write the file again"
        )
    if hashlib.sha256(content).hexdigest() != sha256:
        raise Inconsistent(
            f"the content of {path} in the object store {objects.describe()} is corrupt: its "
            f"bytes do not hash to {sha256}; restore the object or write the file again"
        )
    return content


async def load(objects: ObjectStore, sha256: str, path: str) -> bytes:
    """:func:`verified` in a thread: reading and hashing a large object never stalls the loop."""
    return await asyncio.to_thread(verified, objects, sha256, path)


def object_store(settings: Settings) -> ObjectStore:
    """The store the settings name: S3 for ``s3://bucket/prefix``, else ``<data_dir>/objects``."""
    if settings.object_store is None:
        return LocalObjectStore(settings.data_dir.resolve() / "objects")
    from bifrost.store.s3 import S3ObjectStore  # boto3 loads only where S3 is configured

    return S3ObjectStore.from_settings(settings)


class LocalObjectStore:
    """A directory of immutable files; writes are atomic (temp file, then rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:]

    def describe(self) -> str:
        return str(self.root)

    def put(self, sha256: str, content: bytes) -> None:
        target = self._path(sha256)
        try:
            if target.stat().st_size == len(content):
                os.utime(target)  # already there: only tell a running collection it is in use
                return
        except FileNotFoundError:
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, sha256: str) -> bytes | None:
        try:
            return self._path(sha256).read_bytes()
        except FileNotFoundError:
            return None

    def modified(self, sha256: str) -> float | None:
        try:
            return self._path(sha256).stat().st_mtime
        except FileNotFoundError:
            return None

    def delete(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)

    def scan(self) -> Iterator[StoredObject]:
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if len(folder.name) != 2 or not folder.is_dir():
                continue
            for entry in folder.iterdir():  # temp files (.tmp-*) are not objects
                sha = folder.name + entry.name
                if SHA256.fullmatch(sha):
                    stat = entry.stat()
                    yield StoredObject(sha, stat.st_size, stat.st_mtime)
