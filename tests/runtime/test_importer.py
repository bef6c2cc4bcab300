"""The virtual import hook, item by item against the checklist of research/import-hooks.md."""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import importlib.resources
import importlib.util
import inspect
import io
import linecache
import pickle
import pkgutil
import sys
import threading
import time
import traceback
import types
import warnings
from pathlib import Path

import pytest

from bifrost.runtime.importer import MAGIC, VirtualLoader
from tests.runtime.conftest import VirtualWorkspace, digest

BASIC = {
    "shared/__init__.py": "from .greeting import hello\n",
    "shared/greeting.py": (
        "from . import helpers\n"
        "\n"
        "def hello(name):\n"
        "    return helpers.polite(name)\n"
        "\n"
        "def fail():\n"
        "    raise ValueError('boom from greeting')\n"
    ),
    "shared/helpers.py": "def polite(name):\n    return f'Hello, {name}!'\n",
    "shared/data.json": '{"answer": 42}',
    "shared/sub/notes.txt": "inner note\n",
    "ns/deep/mod.py": (
        "from ..sibling import VALUE\nfrom . import other\nRESULT = VALUE + other.X\n"
    ),
    "ns/deep/other.py": "X = 1\n",
    "ns/sibling.py": "VALUE = 41\n",
}


def import_fresh(name: str) -> types.ModuleType:
    sys.modules.pop(name, None)
    return importlib.import_module(name)


# -- specs and attributes -------------------------------------------------------------------------
def test_module_spec_and_attributes(ws: VirtualWorkspace) -> None:
    ws.put(BASIC)
    mod = importlib.import_module("shared.greeting")
    assert mod.hello("Ada") == "Hello, Ada!"
    assert mod.__file__ == mod.__spec__.origin == ws.path("shared/greeting.py")
    assert mod.__spec__.has_location
    assert isinstance(mod.__spec__.loader, VirtualLoader)
    assert mod.__spec__.loader.is_package("shared.greeting") is False
    assert mod.__package__ == "shared"
    assert not hasattr(mod, "__path__")


def test_package_spec_and_attributes(ws: VirtualWorkspace) -> None:
    ws.put(BASIC)
    pkg = importlib.import_module("shared")
    assert pkg.__path__ == pkg.__spec__.submodule_search_locations == [ws.path("shared")]
    assert pkg.__file__.endswith("/shared/__init__.py")
    assert pkg.__spec__.loader.is_package("shared") is True
    assert pkg.hello("Bo") == "Hello, Bo!"


def test_namespace_package(ws: VirtualWorkspace) -> None:
    ws.put(BASIC)
    ns = importlib.import_module("ns")
    assert ns.__file__ is None
    assert type(ns.__path__).__name__ == "_NamespacePath"
    assert list(ns.__path__) == [ws.path("ns")]
    deep = importlib.import_module("ns.deep.mod")
    assert deep.RESULT == 42  # "..", "." and a nested namespace package


def test_missing_names_raise_module_not_found(ws: VirtualWorkspace) -> None:
    ws.put(BASIC)
    assert importlib.util.find_spec("no_such_module_here") is None
    for name in ("no_such_module_here", "shared.nope", "ns.deep.nope"):
        with pytest.raises(ModuleNotFoundError) as err:
            importlib.import_module(name)
        assert err.value.name == name
        assert name not in sys.modules


def test_non_identifier_and_dotdot_names_are_rejected(ws: VirtualWorkspace) -> None:
    ws.put({"my-mod.py": "X = 1\n", "ok.py": "X = 2\n"})
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("my-mod")
    finder = ws.importer.path_hook(ws.root)
    assert finder.find_spec("my-mod") is None
    with pytest.raises(ImportError):
        ws.importer.path_hook(ws.root + "/../elsewhere")
    with pytest.raises(ImportError):
        ws.importer.path_hook(ws.root + "sibling")  # a prefix that is not below the root


def test_relative_imports(ws: VirtualWorkspace) -> None:
    ws.put(
        {
            "app/__init__.py": "",
            "app/core/__init__.py": "from .. import util\nfrom .models import Model\n",
            "app/core/models.py": "from ..util import tag\nclass Model:\n    kind = tag('m')\n",
            "app/util.py": "def tag(x):\n    return f'<{x}>'\n",
        }
    )
    core = importlib.import_module("app.core")
    assert core.Model.kind == "<m>"
    assert core.util.tag("y") == "<y>"


# -- encodings and line numbers -------------------------------------------------------------------
def _raising_line(func: types.FunctionType) -> traceback.FrameSummary:
    try:
        func()
    except Exception as exc:
        return traceback.extract_tb(exc.__traceback__)[-1]
    raise AssertionError("did not raise")


def test_crlf_cookie_and_non_ascii(ws: VirtualWorkspace) -> None:
    ws.put(
        {
            "crlf.py": b"# crlf\r\n\r\ndef f():\r\n    x = 1\r\n    raise KeyError('crlf')\r\n",
            "latin.py": (
                "# -*- coding: latin-1 -*-\nS = 'caf\xe9'\n\ndef f():\n    raise KeyError(S)\n"
            ).encode("latin-1"),
            "utf.py": "S = 'żółw 🐢'\n\n\ndef f():\n    raise KeyError(S)  # żółw\n".encode(),
        }
    )
    crlf = importlib.import_module("crlf")
    frame = _raising_line(crlf.f)
    assert (frame.lineno, frame.line) == (5, "raise KeyError('crlf')")
    latin = importlib.import_module("latin")
    assert latin.S == "café"
    assert _raising_line(latin.f).lineno == 5
    utf = importlib.import_module("utf")
    assert utf.S == "żółw 🐢"
    assert _raising_line(utf.f).line == "raise KeyError(S)  # żółw"
    assert inspect.getsource(utf.f).splitlines()[-1] == "    raise KeyError(S)  # żółw"


# -- source fidelity ------------------------------------------------------------------------------
def test_traceback_and_inspect_show_virtual_source(ws: VirtualWorkspace) -> None:
    ws.put(BASIC)
    greeting = importlib.import_module("shared.greeting")
    try:
        greeting.fail()
    except ValueError:
        text = traceback.format_exc()
    assert f'File "{ws.path("shared/greeting.py")}", line 7, in fail' in text
    assert "raise ValueError('boom from greeting')" in text
    assert inspect.getsourcefile(greeting.fail) == ws.path("shared/greeting.py")
    assert inspect.getsource(greeting.fail).startswith("def fail():")
    assert greeting.__spec__.loader.get_source("shared.greeting") == BASIC["shared/greeting.py"]


def test_after_a_change_tracebacks_show_new_lines(ws: VirtualWorkspace) -> None:
    ws.put({"mod.py": "def f():\n    raise RuntimeError('old text')\n"})
    assert "old text" in traceback.format_exception(_exc(importlib.import_module("mod").f))[-2]
    ws.put(
        {"mod.py": "def f():\n    # a new line moves the raise down\n    raise OSError('new')\n"}
    )
    mod = import_fresh("mod")
    text = "".join(traceback.format_exception(_exc(mod.f)))
    assert "line 3, in f" in text and "raise OSError('new')" in text and "old text" not in text
    assert "a new line" in inspect.getsource(mod.f)


def _exc(func: types.FunctionType) -> BaseException:
    try:
        func()
    except BaseException as exc:
        return exc
    raise AssertionError("did not raise")


def test_uncaught_exception_in_a_subprocess_shows_source_lines(tmp_path: Path) -> None:
    """3.11/3.12's C printer reads only real files; the hook's excepthook goes via linecache."""
    import subprocess

    script = tmp_path / "main.py"
    script.write_text(
        "import hashlib\n"
        "from bifrost.runtime.importer import install\n"
        "src = b'def boom():\\n    raise ZeroDivisionError(\"uncaught here\")\\n'\n"
        "sha = hashlib.sha256(src).hexdigest()\n"
        f"imp = install({str(tmp_path / 'ws')!r}, {{sha: src}}.get)\n"
        "imp.pin(1, {'boomer.py': sha})\n"
        "import boomer\n"
        "boomer.boom()\n"
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert 'raise ZeroDivisionError("uncaught here")' in proc.stderr


def test_warnings_show_the_source_line(ws: VirtualWorkspace) -> None:
    ws.put({"warner.py": "import warnings\n\ndef go():\n    warnings.warn('careful now')\n"})
    warner = importlib.import_module("warner")
    stream = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(stream):
        warnings.simplefilter("always")
        warnings.showwarning = lambda *a, **k: stream.write(warnings.formatwarning(*a[:4]))
        warner.go()
    out = stream.getvalue()
    assert f"{ws.path('warner.py')}:4: UserWarning: careful now" in out
    assert "warnings.warn('careful now')" in out


def test_a_planted_file_changes_nothing(ws: VirtualWorkspace) -> None:
    ws.put(BASIC)
    planted = Path(ws.path("shared/greeting.py"))
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text(
        "def hello(name):\n    return 'PLANTED'\n\ndef fail():\n    raise ValueError('planted')\n"
    )
    Path(ws.path("shared/__init__.py")).write_text("PLANTED = True\n")
    importlib.invalidate_caches()
    greeting = importlib.import_module("shared.greeting")
    assert greeting.hello("x") == "Hello, x!"
    assert not hasattr(sys.modules["shared"], "PLANTED")
    text = "".join(traceback.format_exception(_exc(greeting.fail)))
    assert "boom from greeting" in text and "planted" not in text
    assert "PLANTED" not in inspect.getsource(greeting)


def test_syntax_error_propagates_with_filename_and_line(ws: VirtualWorkspace) -> None:
    ws.put({"broken.py": "x = 1\n\ndef f(:\n    pass\n"})
    with pytest.raises(SyntaxError) as err:
        importlib.import_module("broken")
    assert err.value.filename == ws.path("broken.py")
    assert err.value.lineno == 3
    assert "broken" not in sys.modules


def test_module_errors_propagate_unchanged_and_leave_no_entry(ws: VirtualWorkspace) -> None:
    ws.put({"bad.py": "import math\nVALUE = 1 / 0\n", "user.py": "import bad\n"})
    with pytest.raises(ZeroDivisionError) as err:
        importlib.import_module("user")
    assert "bad" not in sys.modules and "user" not in sys.modules
    frames = traceback.extract_tb(err.value.__traceback__)
    assert (frames[-1].filename, frames[-1].lineno) == (ws.path("bad.py"), 2)


# -- discovery ------------------------------------------------------------------------------------
def test_pkgutil_iter_modules_and_walk_packages(ws: VirtualWorkspace) -> None:
    ws.put(BASIC)
    shared = importlib.import_module("shared")
    names = {(m.name, m.ispkg) for m in pkgutil.iter_modules(shared.__path__)}
    assert names == {("greeting", False), ("helpers", False)}
    top = {m.name: m.ispkg for m in pkgutil.iter_modules() if m.module_finder.path == ws.root}
    assert top == {"ns": True, "shared": True}
    walked = {m.name for m in pkgutil.walk_packages([ws.root])}
    assert {"shared", "shared.greeting", "shared.helpers", "ns", "ns.deep", "ns.deep.mod"} <= walked


def test_importlib_resources_for_regular_packages(ws: VirtualWorkspace) -> None:
    ws.put(BASIC)
    files = importlib.resources.files("shared")
    assert (files / "data.json").read_text() == '{"answer": 42}'
    assert (files / "data.json").read_bytes() == b'{"answer": 42}'
    assert files.joinpath("sub", "notes.txt").read_text() == "inner note\n"
    assert (files / "sub").is_dir() and not (files / "sub").is_file()
    assert {p.name for p in files.iterdir()} >= {"data.json", "greeting.py", "sub"}
    with importlib.resources.as_file(files / "data.json") as real:
        assert Path(real).read_text() == '{"answer": 42}'
    with pytest.raises(FileNotFoundError):
        (files / "missing.json").read_bytes()
    assert pkgutil.get_data("shared", "data.json") == b'{"answer": 42}'


# -- ordering and shadowing -----------------------------------------------------------------------
def test_stdlib_names_are_never_served(ws: VirtualWorkspace) -> None:
    ws.put({"json.py": "HACKED = True\n", "csv.py": "HACKED = True\n"})
    sys.modules.pop("csv", None)
    import csv
    import json

    assert not hasattr(json, "HACKED") and not hasattr(csv, "HACKED")
    assert "bifrost" not in (csv.__file__ or "")
    with pytest.raises(ImportError, match="conflicts with the standard-library module 'json'"):
        importlib.machinery.PathFinder.find_spec("json", [ws.root])
    assert "csv" not in {m.name for m in pkgutil.iter_modules([ws.root])}
    assert sys.path[-1] == ws.root and sys.path_hooks[0] == ws.importer.path_hook


# -- no I/O in find_spec --------------------------------------------------------------------------
def test_find_spec_never_fetches(ws: VirtualWorkspace) -> None:
    ws.put(BASIC)
    ws.fetches.clear()
    root = ws.importer.path_hook(ws.root)
    shared = ws.importer.path_hook(ws.path("shared"))
    assert root.find_spec("shared") is not None
    assert shared.find_spec("shared.greeting") is not None
    assert root.find_spec("ns").loader is None  # namespace portion
    assert shared.find_spec("shared.missing") is None
    assert importlib.util.find_spec("ns.deep") is not None
    assert ws.fetches == []


def test_a_slow_store_does_not_block_other_threads(ws: VirtualWorkspace, tmp_path: Path) -> None:
    ws.put({"slowmod.py": "X = 1\n"})
    release = threading.Event()
    ws.fetch_hook = lambda sha: (release.wait(5), ws.blobs[sha])[1]
    disk = tmp_path / "disk"
    disk.mkdir()
    (disk / "bifrost_disk_probe.py").write_text("Y = 2\n")
    sys.path.insert(0, str(disk))
    try:
        slow = threading.Thread(target=importlib.import_module, args=("slowmod",))
        slow.start()
        time.sleep(0.05)  # the slow import is now inside exec_module, waiting for the store
        assert importlib.import_module("bifrost_disk_probe").Y == 2
        assert slow.is_alive(), "an unrelated import waited for the slow one"
    finally:
        release.set()
        slow.join()
        sys.path.remove(str(disk))
        sys.modules.pop("bifrost_disk_probe", None)
    assert sys.modules["slowmod"].X == 1


def test_a_failing_store_error_propagates(ws: VirtualWorkspace) -> None:
    ws.put({"flaky.py": "X = 1\n"})

    def broken(sha: str) -> bytes:
        raise ConnectionError("store is down")

    ws.fetch_hook = broken
    with pytest.raises(ConnectionError, match="store is down"):
        importlib.import_module("flaky")
    assert "flaky" not in sys.modules
    ws.fetch_hook = lambda sha: None
    with pytest.raises(ImportError, match="is not available"):
        importlib.import_module("flaky")
    ws.fetch_hook = lambda sha: b"X = 'tampered'\n"
    with pytest.raises(ImportError, match="does not match its sha256"):
        importlib.import_module("flaky")


# -- concurrency and reload -----------------------------------------------------------------------
def test_threads_importing_one_module_execute_it_once(ws: VirtualWorkspace) -> None:
    counter = types.ModuleType("bifrost_test_counter")
    counter.n = 0  # type: ignore[attr-defined]
    sys.modules["bifrost_test_counter"] = counter
    ws.put({"once.py": "import time, bifrost_test_counter as c\nc.n += 1\ntime.sleep(0.05)\n"})
    barrier = threading.Barrier(8)
    results: list[object] = []

    def worker() -> None:
        barrier.wait()
        results.append(importlib.import_module("once"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert counter.n == 1  # type: ignore[attr-defined]
        assert len(results) == 8 and all(r is results[0] for r in results)
    finally:
        del sys.modules["bifrost_test_counter"]


def test_a_loader_keeps_the_generation_it_was_found_in(ws: VirtualWorkspace) -> None:
    ws.put({"pinned.py": "WHICH = 'first'\n"})
    spec = importlib.util.find_spec("pinned")
    ws.put({"pinned.py": "WHICH = 'second'\n"})
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.WHICH == "first"


def test_same_generation_costs_nothing(ws: VirtualWorkspace) -> None:
    generation = ws.put(BASIC)
    mod = importlib.import_module("shared.greeting")
    assert ws.importer.pin(generation, {}) is False  # same generation: nothing happens
    assert sys.modules["shared.greeting"] is mod


def test_generation_change_purges_modules_namespaces_and_linecache(ws: VirtualWorkspace) -> None:
    ws.put(BASIC)
    importlib.import_module("shared.greeting")
    importlib.import_module("ns.deep.mod")
    loaded = [n for n in sys.modules if n.split(".")[0] in ("shared", "ns")]
    assert {"shared", "shared.greeting", "ns", "ns.deep", "ns.deep.mod"} <= set(loaded)
    assert ws.path("shared/greeting.py") in linecache.cache
    ws.put({"shared/helpers.py": "def polite(name):\n    return f'Yo {name}'\n"})
    assert not [n for n in sys.modules if n.split(".")[0] in ("shared", "ns")]
    assert not [k for k in linecache.cache if str(k).startswith(ws.root)]
    assert importlib.import_module("shared").hello("Cy") == "Yo Cy"


def test_reload_sees_new_content(ws: VirtualWorkspace) -> None:
    ws.put({"reloaded.py": "V = 1\n"})
    mod = importlib.import_module("reloaded")
    ws.put({"reloaded.py": "V = 2\n"})
    sys.modules["reloaded"] = mod  # someone kept a reference and reloads it
    assert importlib.reload(mod).V == 2


def test_invalidate_caches_and_new_modules(ws: VirtualWorkspace) -> None:
    ws.put({"first.py": "X = 1\n"})
    importlib.import_module("first")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("second")
    keys = set(ws.importer.code_cache_keys())
    ws.put({"second.py": "Y = 2\n"})
    importlib.invalidate_caches()
    assert importlib.import_module("second").Y == 2
    assert keys <= set(ws.importer.code_cache_keys())  # the content-addressed cache survives


def test_install_drops_a_stale_path_importer_cache_entry(ws: VirtualWorkspace) -> None:
    from bifrost.runtime.importer import install

    ws.put({"cached_none.py": "Z = 3\n"})
    ws.importer.uninstall()
    sys.path.append(ws.root)
    sys.path_importer_cache[ws.root] = None  # as if PathFinder had looked before the hook existed
    ws.importer = install(ws.root, ws._fetch)
    ws.importer.pin(ws.generation, ws.manifest)
    assert importlib.import_module("cached_none").Z == 3
    assert sys.path.count(ws.root) == 1


def test_code_cache_key_and_distinct_filenames(ws: VirtualWorkspace) -> None:
    same = "def where():\n    return __name__\n"
    ws.put({"one.py": same, "two.py": same})
    one, two = importlib.import_module("one"), importlib.import_module("two")
    assert one.where.__code__.co_filename == ws.path("one.py")
    assert two.where.__code__.co_filename == ws.path("two.py")
    sha = digest(same.encode())
    assert (ws.path("one.py"), sha, MAGIC, sys.flags.optimize) in ws.importer.code_cache_keys()
    fetched = len(ws.fetches)
    import_fresh("one")
    assert len(ws.fetches) == fetched  # served from memory


def test_virtual_classes_pickle_in_process(ws: VirtualWorkspace) -> None:
    ws.put(
        {
            "models/__init__.py": "",
            "models/point.py": "class Point:\n    def __init__(self, x):\n        self.x = x\n",
        }
    )
    point = importlib.import_module("models.point").Point(3)
    clone = pickle.loads(pickle.dumps(point))
    assert type(clone) is type(point) and clone.x == 3


def test_uninstall_removes_everything(ws: VirtualWorkspace) -> None:
    ws.put(BASIC)
    importlib.import_module("shared")
    ws.importer.uninstall()
    assert ws.root not in sys.path
    assert all(getattr(h, "__self__", None) is not ws.importer for h in sys.path_hooks)
    assert "shared" not in sys.modules
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("shared")


def test_a_pin_by_change_keeps_the_same_indexes_as_a_whole_pin(ws: VirtualWorkspace) -> None:
    """Directories follow the change alone; a removal (which may empty one) recomputes them."""
    ws.put({"a/b/c.py": "C = 1\n", "a/d.py": "D = 1\n", "e.py": ""})
    ws.importer.snapshot.dirs()
    base = ws.importer.snapshot.manifest
    added = {"x/y/z.py": digest(b"Z = 1\n")}
    ws.importer.pin(10, {**base, **added}, added)
    assert ws.importer.snapshot.dirs() == {"a", "a/b", "x", "x/y"}
    ws.blobs[digest(b"Z = 1\n")] = b"Z = 1\n"
    assert importlib.import_module("x.y.z").Z == 1
    removed = {"a/b/c.py": None}
    without = {p: s for p, s in ws.importer.snapshot.manifest.items() if p != "a/b/c.py"}
    ws.importer.pin(11, without, removed)
    assert ws.importer.snapshot.dirs() == {"a", "x", "x/y"}


def test_a_pruned_change_forgets_only_what_nothing_references(ws: VirtualWorkspace) -> None:
    ws.put({"one.py": "V = 1\n", "two.py": "V = 1\n", "three.py": "V = 3\n"})
    for name in ("one", "three"):
        importlib.import_module(name)
    one, three = digest(b"V = 1\n"), digest(b"V = 3\n")
    assert ws.importer.has_blob(one) and ws.importer.has_blob(three)
    keep = {"one.py": digest(b"V = 2\n"), "two.py": one, "three.py": digest(b"V = 4\n")}
    ws.importer.prune(keep, only=[one, three])
    assert ws.importer.has_blob(one)  # two.py still has that content
    assert not ws.importer.has_blob(three)
    assert not any(key[1] == three for key in ws.importer.code_cache_keys())
