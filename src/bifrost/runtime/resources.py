"""``importlib.resources`` support for workspace packages: data files come from the manifest.

Without a resource reader, ``importlib.resources.files(pkg)`` on a virtual package fails with
"Can't open orphan path". Stdlib only: it runs inside user processes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from importlib.resources.abc import Traversable, TraversableResources
from typing import Any, Protocol


class BlobSource(Protocol):
    root_slash: str

    def blob(self, sha: str, relpath: str = ...) -> bytes: ...


class VirtualTraversable(Traversable):
    """A file or directory of one pinned manifest (``rel`` is workspace-relative)."""

    def __init__(self, source: BlobSource, manifest: Mapping[str, str], rel: str) -> None:
        self._source = source
        self._manifest = manifest
        self._rel = rel.strip("/")

    def __repr__(self) -> str:
        return f"<VirtualTraversable {self._source.root_slash + self._rel!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VirtualTraversable) and (other._rel, other._manifest) == (
            self._rel,
            self._manifest,
        )

    def __hash__(self) -> int:
        return hash(self._rel)

    @property
    def name(self) -> str:
        return self._rel.rpartition("/")[2]

    def is_file(self) -> bool:
        return self._rel in self._manifest

    def is_dir(self) -> bool:
        prefix = f"{self._rel}/" if self._rel else ""
        return any(p.startswith(prefix) for p in self._manifest)

    def iterdir(self) -> Iterator[VirtualTraversable]:
        if not self.is_dir():
            raise NotADirectoryError(self._source.root_slash + self._rel)
        prefix = f"{self._rel}/" if self._rel else ""
        seen: set[str] = set()
        for path in self._manifest:
            if path.startswith(prefix):
                name = path[len(prefix) :].partition("/")[0]
                if name not in seen:
                    seen.add(name)
                    yield VirtualTraversable(self._source, self._manifest, prefix + name)

    def joinpath(self, *descendants: Any) -> VirtualTraversable:
        parts = [self._rel] if self._rel else []
        for item in descendants:
            for part in str(item).replace("\\", "/").split("/"):
                if part in ("", "."):
                    continue
                if part == "..":
                    raise ValueError("'..' is not allowed in a resource path")
                parts.append(part)
        return VirtualTraversable(self._source, self._manifest, "/".join(parts))

    __truediv__ = joinpath

    def read_bytes(self) -> bytes:
        sha = self._manifest.get(self._rel)
        if sha is None:
            raise FileNotFoundError(self._source.root_slash + self._rel)
        return self._source.blob(sha, self._rel)

    def read_text(self, encoding: str | None = None) -> str:
        with self.open("r", encoding=encoding) as f:
            return f.read()

    def open(self, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if mode not in ("r", "rb"):
            raise ValueError(f"workspace resources are read-only (mode {mode!r})")
        stream = io.BytesIO(self.read_bytes())
        if mode == "rb":
            return stream
        kwargs.setdefault("encoding", "utf-8")
        if kwargs["encoding"] is None:
            kwargs["encoding"] = "utf-8"
        return io.TextIOWrapper(stream, *args, **kwargs)


class VirtualResources(TraversableResources):
    """Resource reader for one regular workspace package."""

    def __init__(self, source: BlobSource, manifest: Mapping[str, str], package_dir: str) -> None:
        self._root = VirtualTraversable(source, manifest, package_dir)

    def files(self) -> VirtualTraversable:
        return self._root
