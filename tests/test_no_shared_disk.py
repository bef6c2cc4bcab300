"""No shared disk: two `bifrost api` and two `bifrost worker` processes, each with a data
directory of its own, on PostgreSQL + Redis + S3 (moto's server on loopback), serve one
workspace."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import Backend
from tests.s3 import KEY_ID, SECRET, Bucket
from tests.serving import Cluster
from tests.test_distributed import client_worker
from tests.test_http import execute, put, workflow_id

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)

BLOB = bytes(range(256)) * 4096 + b"\0end"  # 1 MiB of every byte value: binary, in the store
SHA = hashlib.sha256(BLOB).hexdigest()
READER = b"""import hashlib
import os
from importlib.resources import files

from bifrost import workflow


@workflow
def digest() -> dict:
    data = files("shared").joinpath("logo.bin").read_bytes()
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


@workflow
def environment() -> dict:
    return dict(os.environ)
"""


@pytest.fixture
def cluster(backend: Backend, s3_bucket: Bucket, tmp_path: Path):
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {**s3_bucket.env, "BIFROST_SECRET_KEY": "one-secret-key-for-every-process"}
    running = Cluster(backend, logs, own_data_dirs=True).start(apis=2, workers=2, extra_env=env)
    try:
        yield running
    finally:
        running.stop()


def on_both_workers(clients, wid: str) -> list[dict]:
    """Runs ``wid`` through both APIs in turn until each worker has run it; the runs."""
    runs, workers = [], set()
    for index in range(40):
        run = execute(clients[index % 2], wid)
        assert run["status"] == "success", run["error"]
        runs.append(run)
        workers.add(client_worker(clients[0], run["id"]))
        if len(workers) == 2:
            return runs
    raise AssertionError(f"only {workers} ran {wid} in 40 runs")


def test_a_binary_written_through_one_api_is_read_everywhere(
    cluster: Cluster, s3_bucket: Bucket
) -> None:
    with cluster.client(0) as first, cluster.client(1) as second:
        put(first, "shared/__init__.py", b"")
        put(first, "shared/logo.bin", BLOB)
        assert s3_bucket.keys() == [s3_bucket.key(SHA)]
        got = second.get("/api/files/shared/logo.bin")
        assert got.status_code == 200, got.text
        assert got.content == BLOB and got.headers["etag"] == f'"{SHA}"'

        put(second, "workflows/reader.py", READER)
        for run in on_both_workers((first, second), workflow_id(first, "digest")):
            assert run["result"] == {"sha256": SHA, "size": len(BLOB)}

        s3_bucket.client.delete_object(Bucket=s3_bucket.name, Key=s3_bucket.key(SHA))
        for client in (first, second):
            lost = client.get("/api/files/shared/logo.bin")
            assert lost.status_code == 500, lost.text
            detail = lost.json()["detail"]
            assert "shared/logo.bin" in detail and "missing from the object store" in detail
            assert "Traceback" not in detail
    for data_dir in cluster.data_dirs:  # nothing was written to any machine's own disk
        assert not [p for p in data_dir.glob("objects/**/*") if p.is_file()], data_dir


def test_no_store_credential_reaches_an_execution(cluster: Cluster) -> None:
    with cluster.client(0) as first, cluster.client(1) as second:
        put(first, "workflows/reader.py", READER)
        for run in on_both_workers((first, second), workflow_id(first, "environment")):
            seen = json.dumps(run["result"])
            assert SECRET not in seen and KEY_ID not in seen, run["result"]
            # Only the runtime's own variables (its socket, root, limits, the run's id), no setting.
            settings = [k for k in run["result"] if k.startswith(("BIFROST_", "AWS_"))]
            runtime = ("BIFROST_RUNTIME_", "BIFROST_EXECUTION_ID")
            assert [k for k in settings if not k.startswith(runtime)] == []
        assert SECRET not in json.dumps(first.get("/api/health").json())
