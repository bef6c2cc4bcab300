"""Runtime test helpers: workspaces as in-memory manifests, and a fake ``CodeSource``
that hands out each generation with its change (base = the generation before), as the embedded
cache does.

The real store and cache are tested elsewhere; here the code source only has to hand out manifests
and blobs, so an in-memory fake keeps these tests fast and deterministic.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from bifrost.runtime.importer import VirtualImporter, install
from bifrost.runtime.protocol import Snapshot, diff


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def as_bytes(content: str | bytes) -> bytes:
    return content.encode() if isinstance(content, str) else content


class Files:
    """Workspace-relative path -> content, with generations and content-addressed blobs."""

    def __init__(self) -> None:
        self.generation = 0
        self.manifest: dict[str, str] = {}
        self.blobs: dict[str, bytes] = {}
        self.changes: dict[int, dict[str, str | None]] = {}  # generation -> what it changed

    def put(self, files: Mapping[str, str | bytes], *, replace: bool = False) -> int:
        before = self.manifest
        self.manifest = {} if replace else dict(before)
        for path, content in files.items():
            data = as_bytes(content)
            self.blobs[digest(data)] = data
            self.manifest[path] = digest(data)
        return self._next(before)

    def remove(self, *paths: str) -> int:
        before = self.manifest
        self.manifest = {p: s for p, s in before.items() if p not in paths}
        return self._next(before)

    def _next(self, before: dict[str, str]) -> int:
        self.generation += 1
        self.changes[self.generation] = diff(before, self.manifest)
        return self.generation


class VirtualWorkspace(Files):
    """An importer installed on a private root, pinned to the latest ``put``."""

    def __init__(self, root: str) -> None:
        super().__init__()
        self.fetches: list[str] = []
        self.fetch_hook: Callable[[str], bytes | None] | None = None
        self.importer: VirtualImporter = install(root, self._fetch)
        self.root = self.importer.root

    def _fetch(self, sha: str) -> bytes | None:
        self.fetches.append(sha)
        if self.fetch_hook is not None:
            return self.fetch_hook(sha)
        return self.blobs.get(sha)

    def put(self, files: Mapping[str, str | bytes], *, replace: bool = False) -> int:
        generation = super().put(files, replace=replace)
        self.importer.pin(generation, self.manifest)
        return generation

    def remove(self, *paths: str) -> int:
        generation = super().remove(*paths)
        self.importer.pin(generation, self.manifest)
        return generation

    def path(self, relpath: str) -> str:
        return f"{self.root}/{relpath}"


class MemorySource(Files):
    """The ``CodeSource`` protocol over a dict; it can be told to fail or stall blob reads."""

    def __init__(self) -> None:
        super().__init__()
        self.blob_calls: list[str] = []
        self.snapshot_calls = 0
        self.fail_blobs: Exception | None = None
        self.deltas = True  # hand out each snapshot with its change, as the embedded cache does

    async def snapshot(self, min_generation: int) -> Snapshot:
        self.snapshot_calls += 1
        assert self.generation >= min_generation, "asked for a generation that does not exist"
        changes = self.changes.get(self.generation) if self.deltas else None
        base = self.generation - 1 if changes is not None else None
        return Snapshot(self.generation, dict(self.manifest), base, changes)

    async def blob(self, sha256: str) -> bytes | None:
        self.blob_calls.append(sha256)
        if self.fail_blobs is not None:
            raise self.fail_blobs
        return self.blobs.get(sha256)


def private_root() -> str:
    return f"/tmp/bifrost-test-{uuid.uuid4().hex[:10]}/workspace"


@pytest.fixture
def ws() -> Iterator[VirtualWorkspace]:
    workspace = VirtualWorkspace(private_root())
    try:
        yield workspace
    finally:
        workspace.importer.uninstall()
        shutil.rmtree(Path(workspace.root).parent, ignore_errors=True)
