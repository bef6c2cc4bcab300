"""The layering of src/bifrost, checked on every test run (docs/architecture.md draws the map).

The contracts themselves live in pyproject.toml ([tool.importlinter]); the user-side runtime's
"standard library only" rule is an allow-list, which import-linter cannot say, so it is checked here
over the same import graph.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
SERVER_PACKAGES = {"sqlalchemy", "saq", "redis", "fastapi", "uvicorn", "pydantic", "httpx"}


def test_import_contracts_hold() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_user_side_runtime_imports_only_the_standard_library() -> None:
    graph = grimp.build_graph("bifrost", include_external_packages=True)
    runtime = {m for m in graph.modules if m.startswith("bifrost.runtime")}
    assert "bifrost.runtime.child" in runtime  # the graph did see the package
    outside = {
        (module, imported)
        for module in runtime
        for imported in graph.find_modules_directly_imported_by(module)
        if not imported.startswith("bifrost.runtime")
        and imported.split(".")[0] not in sys.stdlib_module_names
    }
    assert outside == set()


def test_a_client_command_loads_no_server_code() -> None:
    """What actually gets imported, not just what the source says: `bifrost files ls` up to the
    point where it sends its request."""
    probe = (
        "import sys; from bifrost.cli import app; from bifrost.cli import client, files, run; "
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert set(done.stdout.split()) & SERVER_PACKAGES == set()


def test_a_worker_loads_neither_the_http_app_nor_the_github_sync() -> None:
    """`bifrost worker` builds its role through roles.process: what that loads is what a worker
    pays for at start-up (loading the API app once made it a third slower)."""
    probe = (
        "import sys; from bifrost.cli import server; from bifrost.roles import process, worker; "
        "print(' '.join(sorted(m for m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert {"fastapi", "starlette", "bifrost.api", "bifrost.github", "merge3"} & loaded == set()
