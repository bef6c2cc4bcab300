"""Path-entry import hook that serves workspace modules from a pinned, content-addressed manifest.

Designed like CPython's zipimport (see research/import-hooks.md): a ``sys.path_hooks[0]`` hook that
claims only paths under the virtual root, with the root appended *last* to ``sys.path`` so the
worker's own dependencies can never be shadowed. ``find_spec`` reads the pinned manifest only (it
runs under the global import lock, so it must never do I/O); sources are fetched in ``exec_module``.
Stdlib only: this module runs inside user processes and must never re-enter the import system.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import linecache
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from bifrost.runtime.resources import VirtualResources

MAGIC = importlib.util.MAGIC_NUMBER
RESERVED = frozenset(sys.stdlib_module_names) | frozenset(sys.builtin_module_names)

FetchBlob = Callable[[str], "bytes | None"]
CodeEntry = tuple[types.CodeType, list[str], int]


def split_lines(text: str) -> list[str]:
    """Split like ``readlines()`` on a universal-newline file (only on ``\\n``), for linecache."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1] + "\n")
    return lines


def _parents(paths: Iterable[str], found: set[str]) -> set[str]:
    """``found`` plus every directory above each of ``paths``."""
    for path in paths:
        cut = path.rfind("/")
        while cut > 0:
            head = path[:cut]
            if head in found:
                break
            found.add(head)
            cut = head.rfind("/")
    return found


class Snapshot:
    """One immutable generation of the manifest, plus indexes derived from it on first use."""

    __slots__ = ("_dirs", "_lock", "generation", "manifest")

    def __init__(self, generation: int | None, manifest: dict[str, str]) -> None:
        self.generation = generation
        self.manifest = manifest
        self._dirs: frozenset[str] | None = None
        self._lock = threading.Lock()

    def dirs(self) -> frozenset[str]:
        """Every directory implied by a manifest path ("a", "a/b" for "a/b/c.py")."""
        dirs = self._dirs
        if dirs is None:
            with self._lock:
                if self._dirs is None:
                    self._dirs = frozenset(_parents(self.manifest, set()))
                dirs = self._dirs
        return dirs

    def derive(self, base: Snapshot, changes: Mapping[str, str | None]) -> None:
        """Take the directories from ``base`` (this one is ``base`` plus ``changes``), paying
        only for the change; a removal may empty a directory, so it leaves them to ``dirs``."""
        if base._dirs is not None and None not in changes.values():
            self._dirs = frozenset(_parents(changes, set(base._dirs)))

    def is_dir(self, rel: str) -> bool:
        return rel == "" or rel in self.dirs()

    def listdir(self, rel: str) -> dict[str, bool]:
        """Direct children of directory ``rel``: name -> True for a directory, False for a file."""
        prefix = f"{rel}/" if rel else ""
        out: dict[str, bool] = {}
        for path in self.manifest:
            if path.startswith(prefix):
                rest = path[len(prefix) :]
                name, sep, _ = rest.partition("/")
                out[name] = out.get(name, False) or bool(sep)
        return out

    def has_python_below(self, rel: str) -> bool:
        prefix = f"{rel}/"
        return any(p.startswith(prefix) and p.endswith(".py") for p in self.manifest)


class VirtualImporter:
    """Owns the pinned snapshot, the blob store and the code-object cache for one virtual root."""

    def __init__(self, root: str, fetch_blob: FetchBlob) -> None:
        self.root = root
        self.root_slash = root + "/"
        self._fetch = fetch_blob
        self._snapshot = Snapshot(None, {})
        self._blobs: dict[str, bytes] = {}
        self._code: dict[tuple[str, str, bytes, int], CodeEntry] = {}
        self._lock = threading.RLock()

    # -- snapshot -----------------------------------------------------------------------------
    @property
    def generation(self) -> int | None:
        return self._snapshot.generation

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def pin(
        self,
        generation: int,
        manifest: Mapping[str, str],
        changes: Mapping[str, str | None] | None = None,
    ) -> bool:
        """Switch to ``generation``; on a change, purge every workspace module. Returns changed.
        ``changes``: what turns the pinned generation into this one, so indexes follow cheaply."""
        if generation == self._snapshot.generation:
            return False
        with self._lock:
            if generation == self._snapshot.generation:
                return False
            base, self._snapshot = self._snapshot, Snapshot(generation, dict(manifest))
            if changes is not None:
                self._snapshot.derive(base, changes)
            self.purge()
            importlib.invalidate_caches()
        return True

    def owns(self, module: object) -> bool:
        """True for modules this root served: our loader, or a ``__path__``/file under the root."""
        if not isinstance(module, types.ModuleType):
            return False
        ns = module.__dict__
        spec = ns.get("__spec__")
        loader = getattr(spec, "loader", None)
        if isinstance(loader, VirtualLoader) and loader.importer is self:
            return True
        locations = getattr(spec, "submodule_search_locations", None)
        if locations is not None:
            locations = getattr(locations, "_path", locations)  # avoid _NamespacePath recalculation
            try:
                if any(isinstance(p, str) and self.under_root(p) for p in list(locations)):
                    return True
            except Exception:  # boundary: a user module's __path__ may be any object
                pass
        file = ns.get("__file__")
        return isinstance(file, str) and self.under_root(file)

    def under_root(self, path: str) -> bool:
        return path == self.root or path.startswith(self.root_slash)

    def purge(self) -> list[str]:
        """Drop every workspace module and linecache entry; the code cache is content-addressed."""
        names = [name for name, mod in list(sys.modules.items()) if self.owns(mod)]
        for name in names:
            sys.modules.pop(name, None)
        for key in [k for k in list(linecache.cache) if isinstance(k, str) and self.under_root(k)]:
            linecache.cache.pop(key, None)
        return names

    def ensure_last(self) -> None:
        """Keep the root the last ``sys.path`` entry, so installed packages always win."""
        if not sys.path or sys.path[-1] != self.root:
            while self.root in sys.path:
                sys.path.remove(self.root)
            sys.path.append(self.root)

    # -- blobs and code -----------------------------------------------------------------------
    def has_blob(self, sha: str) -> bool:
        return sha in self._blobs

    def preload_blobs(self, blobs: Mapping[str, bytes]) -> None:
        """Add known blobs (keyed by their sha256 hex) so later imports need no fetch."""
        self._blobs.update(blobs)

    def blob(self, sha: str, relpath: str = "?") -> bytes:
        """Bytes of ``sha``: memory first, else ``fetch_blob``; the content hash is verified."""
        data = self._blobs.get(sha)
        if data is None:
            try:
                data = self._fetch(sha)
            except Exception as exc:  # boundary: whatever the fetch raised, named and re-raised
                exc.add_note(f"while fetching workspace file {relpath} (sha256 {sha})")
                raise
            if data is None:
                raise ImportError(f"source of {relpath} (sha256 {sha}) is not available")
            data = bytes(data)
            if hashlib.sha256(data).hexdigest() != sha:
                raise ImportError(f"content of {relpath} does not match its sha256 {sha}")
            self._blobs[sha] = data
        return data

    def _key(self, relpath: str, sha: str) -> tuple[str, str, bytes, int]:
        return (self.root_slash + relpath, sha, MAGIC, sys.flags.optimize)

    def _entry(self, relpath: str, sha: str) -> CodeEntry:
        key = self._key(relpath, sha)
        path = key[0]
        entry = self._code.get(key)
        if entry is None:
            text = importlib.util.decode_source(self.blob(sha, relpath))
            lines = split_lines(text)
            # Seed first, so even a SyntaxError traceback shows exactly this source.
            linecache.cache[path] = (len(text), None, lines, path)
            code = compile(text, path, "exec", dont_inherit=True)
            entry = self._code[key] = (code, lines, len(text))
        return entry

    def compile_cached(self, relpath: str, sha: str) -> types.CodeType:
        """Compile (or fetch from cache) ``relpath`` at ``sha``; a template uses it to warm."""
        return self._entry(relpath, sha)[0]

    def is_compiled(self, relpath: str, sha: str) -> bool:
        return self._key(relpath, sha) in self._code

    def code_for(self, relpath: str, sha: str) -> types.CodeType:
        """The code object to execute, with linecache seeded with exactly its source."""
        code, lines, size = self._entry(relpath, sha)
        path = self.root_slash + relpath
        linecache.cache[path] = (size, None, lines, path)
        return code

    def source(self, relpath: str, sha: str) -> str:
        entry = self._code.get(self._key(relpath, sha))
        if entry is not None:
            return "".join(entry[1])
        return importlib.util.decode_source(self.blob(sha, relpath))

    def code_cache_keys(self) -> list[tuple[str, str, bytes, int]]:
        return list(self._code)

    def prune(self, keep: Mapping[str, str], only: Iterable[str] | None = None) -> None:
        """Forget blobs and code that ``keep`` (a manifest) no longer references; ``only``: of
        these shas alone (what a change replaced), so a small change costs little."""
        with self._lock:
            if only is not None:
                values = keep.values()
                gone = {s for s in only if s not in values}
                if gone:
                    for sha in gone:
                        self._blobs.pop(sha, None)
                    for key in [k for k in self._code if k[1] in gone]:
                        del self._code[key]
                return
            shas = set(keep.values())
            for sha in [s for s in self._blobs if s not in shas]:
                del self._blobs[sha]
            for key in [k for k in self._code if k[1] not in shas]:
                del self._code[key]

    # -- path hook ----------------------------------------------------------------------------
    def path_hook(self, path: str) -> VirtualPathFinder:
        """``sys.path_hooks`` entry: claim only the root and directories below it."""
        if isinstance(path, str) and self.under_root(path):
            rel = path[len(self.root_slash) :].strip("/") if path != self.root else ""
            if ".." not in rel.split("/") and "//" not in rel:
                return VirtualPathFinder(self, rel)
        raise ImportError("not a Bifrost workspace path", path=path)

    def uninstall(self) -> None:
        """Remove the hook, the ``sys.path`` entry and every module served from the root."""
        self.purge()
        sys.path_hooks[:] = [h for h in sys.path_hooks if getattr(h, "__self__", None) is not self]
        while self.root in sys.path:
            sys.path.remove(self.root)
        _forget_finders(self.root, self.root_slash)
        if _installed.get(self.root) is self:
            del _installed[self.root]
        importlib.invalidate_caches()


class VirtualPathFinder:
    """Path-entry finder for one directory of the workspace (like ``zipimporter`` for a prefix)."""

    __slots__ = ("_prefix", "importer", "path", "rel")

    def __init__(self, importer: VirtualImporter, rel: str) -> None:
        self.importer = importer
        self.rel = rel
        self._prefix = f"{rel}/" if rel else ""
        self.path = importer.root_slash + rel if rel else importer.root

    def __repr__(self) -> str:
        return f"<VirtualPathFinder {self.path!r}>"

    def find_spec(
        self, fullname: str, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """Resolve ``fullname`` against the pinned manifest only (no I/O, global lock held)."""
        snap = self.importer._snapshot
        manifest = snap.manifest
        tail = fullname.rpartition(".")[2]
        rel = self._prefix + tail
        relpath = rel + "/__init__.py"
        sha = manifest.get(relpath)
        if sha is None:
            relpath = rel + ".py"
            sha = manifest.get(relpath)
            if sha is None:
                if rel not in snap.dirs() or not tail.isidentifier():
                    return None
                self._check_reserved(fullname, tail, rel)
                spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
                spec.submodule_search_locations = [self.importer.root_slash + rel]
                return spec
        if not tail.isidentifier():
            return None
        self._check_reserved(fullname, tail, relpath)
        is_pkg = relpath.endswith("/__init__.py")
        loader = VirtualLoader(self.importer, fullname, relpath, sha, is_pkg)
        return importlib.util.spec_from_file_location(
            fullname,
            loader.path,
            loader=loader,
            submodule_search_locations=[self.importer.root_slash + rel] if is_pkg else None,
        )

    def _check_reserved(self, fullname: str, tail: str, relpath: str) -> None:
        if not self._prefix and tail in RESERVED:
            raise ImportError(
                f"workspace file {relpath!r} conflicts with the standard-library module {tail!r};"
                " rename it",
                name=fullname,
            )

    def invalidate_caches(self) -> None:
        """Nothing to drop: the snapshot is immutable and replaced as a whole by ``pin``."""

    def iter_modules(self, prefix: str = "") -> Iterator[tuple[str, bool]]:
        """``pkgutil`` support: modules, packages and namespace directories in this directory."""
        snap = self.importer._snapshot
        for name, is_dir in sorted(snap.listdir(self.rel).items()):
            rel = self._prefix + name
            if is_dir:
                if not name.isidentifier():
                    continue
                if not (f"{rel}/__init__.py" in snap.manifest or snap.has_python_below(rel)):
                    continue
                modname, ispkg = name, True
            elif name.endswith(".py") and name != "__init__.py":
                modname, ispkg = name[:-3], False
                if not modname.isidentifier() or snap.is_dir(rel[:-3]):
                    continue
            else:
                continue
            if not self._prefix and modname in RESERVED:
                continue
            yield prefix + modname, ispkg


class VirtualLoader(importlib.abc.Loader):
    """Loader bound to one (path, sha256) at find time, so one import never mixes generations."""

    def __init__(
        self, importer: VirtualImporter, fullname: str, relpath: str, sha: str, is_pkg: bool
    ) -> None:
        self.importer = importer
        self.name = fullname
        self.relpath = relpath
        self.sha = sha
        self._is_pkg = is_pkg
        self._manifest = importer._snapshot.manifest
        self.path = importer.root_slash + relpath

    def __repr__(self) -> str:
        return f"<VirtualLoader {self.name!r} {self.relpath!r} {self.sha[:12]}>"

    def _check(self, fullname: str | None) -> None:
        if fullname is not None and fullname != self.name:
            raise ImportError(f"loader for {self.name!r} cannot handle {fullname!r}", name=fullname)

    def get_filename(self, fullname: str | None = None) -> str:
        self._check(fullname)
        return self.path

    def is_package(self, fullname: str | None = None) -> bool:
        self._check(fullname)
        return self._is_pkg

    def get_source(self, fullname: str | None = None) -> str:
        self._check(fullname)
        return self.importer.source(self.relpath, self.sha)

    def get_code(self, fullname: str | None = None) -> types.CodeType:
        self._check(fullname)
        return self.importer.code_for(self.relpath, self.sha)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        exec(self.importer.code_for(self.relpath, self.sha), module.__dict__)

    def get_data(self, path: str) -> bytes:
        """Legacy ``ResourceLoader`` API (``pkgutil.get_data``) for files in the manifest."""
        rel = path[len(self.importer.root_slash) :] if self.importer.under_root(path) else None
        sha = self._manifest.get(rel) if rel else None
        if sha is None:
            raise FileNotFoundError(path)
        return self.importer.blob(sha, rel or path)

    def get_resource_reader(self, fullname: str | None = None) -> Any:
        """``importlib.resources`` support for regular packages (data files in the manifest)."""
        self._check(fullname)
        if not self._is_pkg:
            return None
        return VirtualResources(self.importer, self._manifest, self.relpath.rpartition("/")[0])


_installed: dict[str, VirtualImporter] = {}


def _forget_finders(root: str, root_slash: str) -> None:
    for key in list(sys.path_importer_cache):
        if isinstance(key, str) and (key == root or key.startswith(root_slash)):
            del sys.path_importer_cache[key]


def normalize_root(root: str) -> str:
    import os.path

    return os.path.normpath(os.path.abspath(root))


def installed(root: str) -> VirtualImporter | None:
    """The importer installed for ``root``, if any."""
    return _installed.get(normalize_root(root))


def _print_exception(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
    import traceback

    traceback.print_exception(exc_type, exc, tb)


def _print_thread_exception(args: Any) -> None:
    import traceback

    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else threading.get_ident()
    print(f"Exception in thread {name}:", file=sys.stderr, flush=True)
    traceback.print_exception(args.exc_type, args.exc_value, args.exc_traceback)


def _install_excepthooks() -> None:
    """On 3.11/3.12 the C traceback printer reads real files only; print through linecache."""
    if sys.version_info >= (3, 13):
        return
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _print_exception
    if threading.excepthook is threading.__excepthook__:
        threading.excepthook = _print_thread_exception


def install(root: str, fetch_blob: FetchBlob) -> VirtualImporter:
    """Install the hook for ``root`` (replacing any previous one): hook first, root last."""
    _install_excepthooks()
    root = normalize_root(root)
    previous = _installed.get(root)
    if previous is not None:
        previous.uninstall()
    importer = VirtualImporter(root, fetch_blob)
    sys.path_hooks.insert(0, importer.path_hook)
    importer.ensure_last()
    _forget_finders(root, importer.root_slash)
    _installed[root] = importer
    importlib.invalidate_caches()
    return importer
