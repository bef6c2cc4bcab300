"""C1 and C2 through a real deployment (`bifrost up` as root, default settings) on both back ends:
the settings wire the confinement, and the data directory's files are private."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.security.probes import TRY
from tests.serving import Cluster
from tests.test_http import execute, put, workflow_id

PROBE = (
    b"""
import os

from bifrost import workflow
"""
    + TRY.encode()
    + b"""

@workflow
def probe(data_dir: str) -> dict:
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    reads = {
        name: _try(lambda name=name: open(os.path.join(data_dir, name), "rb").read(1))
        for name in ("bifrost.db", "bifrost.db-wal", "bifrost.db-shm", "admin-token")
    }
    reads["objects"] = _try(lambda: os.listdir(os.path.join(data_dir, "objects")))
    packages = os.path.join(data_dir, "packages")
    writes = {
        "packages": _try(lambda: open(os.path.join(packages, "sitecustomize.py"), "w")),
        "etc": _try(lambda: os.close(os.open("/etc/passwd", os.O_WRONLY | os.O_APPEND))),
    }
    return {
        "uid": os.getuid(),
        "caps": int(status["CapEff"], 16),
        "reads": reads,
        "writes": writes,
        "kill_template": _try(lambda: os.kill(os.getppid(), 0)),
    }
"""
)


def test_a_deployed_execution_reaches_no_data_file_and_writes_nothing(cluster: Cluster) -> None:
    data_dir = Path(cluster.backend.env["BIFROST_DATA_DIR"]).resolve()
    (data_dir / "packages").mkdir(exist_ok=True)
    with cluster.client() as client:
        put(client, "workflows/probe.py", PROBE)
        run = execute(client, workflow_id(client, "probe"), data_dir=str(data_dir))
    assert run["status"] == "success", run["error"]
    found = run["result"]
    assert found["uid"] >= 2_000_000_000 and found["caps"] == 0, found
    assert set(found["reads"].values()) == {"FileNotFoundError"}, found
    assert "ALLOWED" not in found["writes"].values(), found
    assert found["kill_template"] == "PermissionError", found
    assert not (data_dir / "packages" / "sitecustomize.py").exists()


def test_c2_the_data_directory_and_database_files_are_private(cluster: Cluster) -> None:
    """SQLite gives a new WAL and SHM the database file's mode (0644 when that mode is 0)."""
    data_dir = Path(cluster.backend.env["BIFROST_DATA_DIR"]).resolve()
    with cluster.client() as client:
        put(client, "notes/a.txt", b"a write, so the WAL exists")
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    private = [*data_dir.glob("bifrost.db*"), data_dir / "objects"]
    if cluster.backend.name == "embedded":
        assert {p.name for p in private} >= {"bifrost.db", "bifrost.db-wal", "bifrost.db-shm"}
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
