"""H1 and C1 staged for real: files in the package directory that shadow the standard library or
run at interpreter start (``selectors.py``, ``socket.py``, ``sitecustomize.py``,
``usercustomize.py``, a ``.pth`` file) change nothing, in the template, its children, or a Python
an execution starts.

The shadowing files are installed straight into the package directory with uv, past Bifrost's
refusal (as an older Bifrost, or a planted file, would leave them); the ``.pth`` wheel is an
ordinary package and goes through the install endpoint. Each file writes a marker when it runs,
into a directory every account may write; a control module that executions do import writes one
too, so the markers would show.
"""

from __future__ import annotations

import site
import subprocess
import sys
import sysconfig
import uuid
from pathlib import Path

from bifrost.packages.installer import find_uv
from bifrost.runtime.protocol import ExecutionRequest
from tests.conftest import Backend
from tests.packages.conftest import open_worker
from tests.packages.wheels import wheel

PROBE = b"""from bifrost import workflow


@workflow
def probe() -> dict:
    import selectors, socket, subprocess, sys

    import bft_pth  # the control: writes its marker

    script = (
        "from bifrost.runtime.bootstrap import extend_sys_path; extend_sys_path(); "
        "import selectors, socket, bft_pth; print(selectors.__file__, bft_pth.VERSION)"
    )
    started = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    return {
        "selectors": selectors.__file__,
        "socket": socket.__file__,
        "version": bft_pth.VERSION,
        "subprocess": started.stdout.strip() or started.stderr[-500:],
    }
"""


def marker(marks: Path, name: str) -> str:
    return (
        f"import os\nopen(os.path.join({str(marks)!r}, {name!r} + '-' + str(os.getpid())), 'w')\n"
    )


def build(house: Path, marks: Path) -> None:
    shadows = {f"{name}.py": marker(marks, name) for name in ("selectors", "socket")}
    for name in ("sitecustomize", "usercustomize"):
        shadows[f"{name}.py"] = marker(marks, name)
    wheel(house, "bft-shadows", "1.0", files=shadows)
    line = marker(marks, "pth").replace("\n", "; ").rstrip("; ")
    wheel(
        house,
        "bft-pth",
        "1.0",
        source=marker(marks, "control") + "VERSION = '1.0'\n",
        files={"bft_pth.pth": line + "\n"},
    )


async def test_the_package_directory_shadows_nothing_and_runs_nothing_at_start(
    pkg_backend: Backend, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    marks.chmod(0o1777)  # any account may write here, as in /tmp
    house = tmp_path / "house"
    house.mkdir()
    build(house, marks)
    packages = tmp_path / "packages"
    settings = pkg_backend.settings.model_copy(
        update={
            "packages_dir": packages,
            "package_index_args": f"--no-index --find-links {house}",
            # Unconfined, so that markers written by executions reach this test's directory (a
            # confined run writes only its private /tmp): this test is about sys.path alone.
            "sandbox": "off",
        }
    )
    uv = find_uv()
    assert uv is not None
    into = ["--target", str(packages), "--python", sys.executable, "--compile-bytecode"]
    found = ["--no-index", "--find-links", str(house)]
    subprocess.run([uv, "pip", "install", *into, *found, "bft-shadows"], check=True)
    assert (packages / "sitecustomize.py").exists() and (packages / "selectors.py").exists()

    svc, _ = await open_worker(settings, real_executor=True)
    try:
        written = await svc.files.write("workflows/probe.py", PROBE)
        body = await svc.packages.install("bft-pth")  # a .pth file is allowed: it is never read
        assert body["waiting_for"] == [] and body["workers"]  # the template was recycled
        assert svc.executor is not None
        info = await svc.executor.template_info()
        outcome = await svc.executor.run(
            ExecutionRequest(
                execution_id=uuid.uuid4().hex,
                module="workflows.probe",
                function="probe",
                generation=max(written.generation, body["generation"]),
                timeout_s=60,
            )
        )
    finally:
        await svc.close()

    path = info["sys_path"]
    stdlib = sysconfig.get_paths()["stdlib"]
    # The interpreter's own entries: stdlib, its zip, lib-dynload, site-packages.
    first = [p for p in sys.path if p.startswith((sys.base_prefix, sys.prefix))]
    assert stdlib in first and set(site.getsitepackages()) <= set(first)
    assert str(packages) in path and all(p in path for p in first), path
    assert all(path.index(p) < path.index(str(packages)) for p in first), path
    assert path[-1] == svc.executor.root  # the workspace root stays last

    assert outcome.status == "success", outcome.error
    result = outcome.result
    assert result["selectors"].startswith(stdlib) and result["socket"].startswith(stdlib)
    assert result["version"] == "1.0"
    assert result["subprocess"].startswith(stdlib) and result["subprocess"].endswith(" 1.0")
    written_marks = {p.name.split("-")[0] for p in marks.iterdir()}
    assert written_marks == {"control"}, written_marks  # only what executions imported on purpose
