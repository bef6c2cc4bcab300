"""A package build script (an sdist's in-tree backend) runs with the same confinement as an
execution: it cannot read the admin token, the supervisor's environment or root's files, and can
write only its target and cache. Real uv and pip, real builds."""

from __future__ import annotations

import asyncio
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from bifrost.packages.installer import Installer
from bifrost.runtime.confine import Policy
from bifrost.workspace.requirements import parse_requirement
from tests.security.probes import TRY

BACKEND = """
import json
import os

OUT = {out!r}  # the build cache: writable by builds, hidden from executions
DATA = {data!r}
SUPERVISOR = {supervisor}

{helpers}

def _probe(*args, **kwargs):
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    found = {{
        "uid": os.getuid(),
        "caps": int(status["CapEff"], 16),
        "token": _try(lambda: open(os.path.join(DATA, "admin-token")).read()),
        "database": _try(lambda: open(os.path.join(DATA, "bifrost.db")).read()),
        "root": _try(lambda: os.listdir("/root/.cache")),
        "supervisor_environ": _try(lambda: open(f"/proc/{{SUPERVISOR}}/environ").read()),
        "kill_supervisor": _try(lambda: os.kill(SUPERVISOR, 0)),
        "write_etc": _try(lambda: open("/etc/bifrost-build-planted", "w")),
        "write_data": _try(lambda: open(os.path.join(DATA, "planted"), "w")),
    }}
    with open(os.path.join(OUT, "probe.json"), "w") as out:
        json.dump(found, out)
    raise RuntimeError("the probe is done")


get_requires_for_build_wheel = get_requires_for_build_sdist = _probe
prepare_metadata_for_build_wheel = build_wheel = build_sdist = _probe
"""


def probing_sdist(directory: Path, out: Path, data: Path) -> None:
    root = "bft-probe-1.0"
    members = {
        f"{root}/PKG-INFO": "Metadata-Version: 2.1\nName: bft-probe\nVersion: 1.0\n",
        f"{root}/pyproject.toml": (
            '[build-system]\nrequires = []\nbuild-backend = "probe_backend"\nbackend-path = ["."]\n'
        ),
        f"{root}/probe_backend.py": BACKEND.format(
            out=str(out), data=str(data), supervisor=os.getpid(), helpers=TRY
        ),
    }
    with tarfile.open(directory / f"{root}.tar.gz", "w:gz") as archive:
        for member, text in members.items():
            entry = tarfile.TarInfo(member)
            entry.size = len(text.encode())
            entry.mode = 0o644
            archive.addfile(entry, io.BytesIO(text.encode()))


@pytest.mark.parametrize("tool", ["uv", "pip"])
def test_an_sdist_build_script_is_confined(tool: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    target = data / "packages"
    target.mkdir(parents=True)
    (data / "admin-token").write_text("bf_secret")
    (data / "bifrost.db").write_text("rows")
    data.chmod(0o700)
    index = tmp_path / "index"
    index.mkdir(mode=0o755)
    probing_sdist(index, data / "build-cache", data)
    installer = Installer(
        target,
        tool=tool,
        index_args=["--no-index", "--find-links", str(index)],
        confinement=Policy(hide=("/root", str(data))),
        cache=data / "build-cache",
    )
    result = asyncio.run(installer.install([parse_requirement("bft-probe")]))
    assert "bft-probe" in result.failed  # the probe fails the build on purpose
    probe = data / "build-cache" / "probe.json"
    found = json.loads(probe.read_text())
    assert found["uid"] >= 2_000_000_000 and found["caps"] == 0, found
    for key in ("token", "database", "root"):
        assert found[key] == "FileNotFoundError", found
    assert found["supervisor_environ"] == "PermissionError", found
    assert found["kill_supervisor"] == "PermissionError", found
    assert found["write_etc"] in ("PermissionError", "OSError"), found
    assert found["write_data"] in ("FileNotFoundError", "PermissionError", "OSError"), found
    assert not Path("/etc/bifrost-build-planted").exists()
    assert not (data / "planted").exists()
    # What the build wrote is root's again once it is over.
    assert probe.stat().st_uid == 0 and target.stat().st_uid == 0
