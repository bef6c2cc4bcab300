"""The package endpoints against real servers (`bifrost up`, or `bifrost api` + 2 workers).

What a user does: install from the API, run a workflow that imports the package, see a broken
package refused, edit requirements.txt by hand, follow a long install live on the WebSocket,
uninstall, and restart everything on empty package directories.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.conftest import ADMIN_TOKEN, Backend
from tests.serving import Cluster, list_all

USE = b"""from bifrost import workflow


@workflow
def use(module: str) -> str:
    import importlib

    return importlib.import_module(module).VERSION
"""


def start(backend: Backend, log_dir: Path, packages_dir: Path) -> Cluster:
    log_dir.mkdir(exist_ok=True)
    env = {"BIFROST_PACKAGES_DIR": str(packages_dir)}
    workers = 0 if backend.name == "embedded" else 2
    return Cluster(backend, log_dir).start(workers=workers, extra_env=env)


@pytest.fixture
def cluster(pkg_backend: Backend, tmp_path: Path) -> Iterator[Cluster]:
    running = start(pkg_backend, tmp_path / "logs", tmp_path / "packages")
    try:
        if running.client().get("/api/packages").status_code == 404:
            pytest.skip("the packages router is not mounted yet")
        yield running
    finally:
        running.stop()


def run(client: httpx.Client, module: str) -> dict:
    (found,) = [w for w in list_all(client, "/api/workflows") if w["function_name"] == "use"]
    response = client.post(
        f"/api/workflows/{found['id']}/execute", json={"parameters": {"module": module}}
    )
    assert response.status_code == 200, response.text
    return response.json()


def wait_for_workers(client: httpx.Client, file_hash: str, timeout: float = 60) -> dict:
    """Hand edits answer at once; the workers catch up on their own. Poll until they have."""
    deadline = time.monotonic() + timeout
    while True:
        body = client.get("/api/packages").json()
        if body["workers"] and all(w.get("hash") == file_hash for w in body["workers"]):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def test_packages_over_http(cluster: Cluster, pkg_backend: Backend, tmp_path: Path) -> None:
    client = cluster.client()
    assert client.put("/api/files/workflows/use.py", content=USE).status_code == 200
    assert run(client, "bft_alpha")["status"] == "failed"

    installed = client.post("/api/packages/install", json={"requirement": "bft-alpha>=1"})
    assert installed.status_code == 200, installed.text
    body = installed.json()
    assert body["waiting_for"] == [] and len(body["workers"]) == (
        1 if cluster.backend.name == "embedded" else 2
    )
    result = run(client, "bft_alpha")
    assert (result["status"], result["result"]) == ("success", "1.0"), result

    broken = client.post("/api/packages/install", json={"requirement": "bft-broken"})
    assert broken.status_code == 422 and "cairo.h" in broken.json()["detail"]
    assert client.get("/api/files/requirements.txt").text == "bft-alpha>=1\n"
    invalid = client.post("/api/packages/install", json={"requirement": "bft-alpha>="})
    assert invalid.status_code == 422

    # A hand edit (or a GitHub pull) has the same effect, broken line included.
    edited = client.put(
        "/api/files/requirements.txt", content=b"bft-alpha>=1\nbft-broken\nbft-epsilon\n"
    ).json()
    listing = wait_for_workers(client, edited["file"]["content_hash"])
    for worker in listing["workers"]:
        assert "cairo.h" in worker["failed"]["bft-broken"]
    assert run(client, "bft_epsilon")["result"] == "3.0"

    # A long install, followed live on the WebSocket.
    ws_url = cluster.urls[0].replace("http", "ws", 1) + "/api/ws"
    with connect(ws_url, additional_headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as ws:
        ws.send(json.dumps({"subscribe": "job:job-42"}))
        assert json.loads(ws.recv(timeout=10)) == {"subscribed": "job:job-42"}
        started = client.post(
            "/api/packages/install",
            json={"requirement": "bft-gamma[fast]", "wait": False, "job_id": "job-42"},
        )
        assert started.status_code == 202 and started.json()["job_id"] == "job-42"
        events = []
        while not events or events[-1]["type"] != "done":
            events.append(json.loads(ws.recv(timeout=60))["event"])
    assert {"progress", "output"} <= {e["type"] for e in events} and events[-1]["ok"]
    assert run(client, "bft_delta")["result"] == "0.5"

    # The job's record says the same, durably.
    job = client.get("/api/jobs/job-42").json()
    assert (job["kind"], job["status"], job["error"]) == ("packages.install", "success", None)
    assert job["result"]["job_id"] == "job-42" and job["result"]["name"] == "bft-gamma"
    assert job["created_by"] and job["finished_at"] and job["log"]
    assert set(job["progress"]) == {"phase", "current", "total", "path", "message"}
    assert client.get("/api/jobs/no-such-job").status_code == 404
    assert httpx.get(f"{cluster.urls[0]}/api/jobs/job-42").status_code == 401
    again_42 = client.post(
        "/api/packages/install", json={"requirement": "bft-alpha", "job_id": "job-42"}
    )
    assert again_42.status_code == 409 and "job-42" in again_42.json()["detail"]

    # Job channels have their own namespace: job id "workers" is not the acknowledgements'.
    with connect(ws_url, additional_headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as ws:
        for channel in ("job:workers", "packages:workers"):
            ws.send(json.dumps({"subscribe": channel}))
            assert json.loads(ws.recv(timeout=10)) == {"subscribed": channel}
        started = client.post(
            "/api/packages/install",
            json={"requirement": "bft-alpha>=1", "wait": False, "job_id": "workers"},
        )
        assert started.status_code == 202 and started.json()["channel"] == "job:workers"
        seen: dict[str, list[dict]] = {"job:workers": [], "packages:workers": []}
        while not seen["job:workers"] or seen["job:workers"][-1]["type"] != "done":
            message = json.loads(ws.recv(timeout=60))
            seen[message["channel"]].append(message["event"])
    assert seen["job:workers"][-1]["ok"]
    assert all("worker" not in e for e in seen["job:workers"])
    assert all("type" not in e and "worker" in e for e in seen["packages:workers"])

    removed = client.delete("/api/packages/BFT_Epsilon")
    assert removed.status_code == 200 and removed.json()["lines"] == ["bft-epsilon"]
    assert run(client, "bft_epsilon")["status"] == "failed"
    assert client.delete("/api/packages/bft-epsilon").status_code == 404

    names = [p["name"] for p in client.get("/api/packages").json()["packages"]]
    assert names == ["bft-alpha", "bft-broken", "bft-gamma"]

    # Restart every process on empty package directories: the packages come back.
    cluster.stop()
    again = start(pkg_backend, tmp_path / "logs-2", tmp_path / "empty")
    try:
        client = again.client()
        assert run(client, "bft_alpha")["result"] == "1.0"
        assert run(client, "bft_delta")["result"] == "0.5"
        assert run(client, "bft_epsilon")["status"] == "failed"
    finally:
        again.stop()
