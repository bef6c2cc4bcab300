"""HTTP-level tests against real servers (`bifrost up`, or `bifrost api` + `bifrost worker`).

These walk what a user does: save files, run workflows, change and delete code, and check that every
run sees exactly the code saved before it, on both back ends.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, Backend
from tests.serving import BIFROST, Cluster, list_all

GREETING_V1 = b'def greet(name):\n    return f"Hello, {name}!"\n'
GREETING_V2 = b'def greet(name):\n    return f"Howdy, {name}!"\n'
HELLO = b"""from bifrost import workflow

from shared.greeting import greet


@workflow
def hello(name: str = "world") -> str:
    return greet(name)
"""


def put(client: httpx.Client, path: str, content: bytes) -> dict:
    response = client.put(f"/api/files/{path}", content=content)
    assert response.status_code == 200, response.text
    return response.json()


def workflow_id(client: httpx.Client, function_name: str) -> str:
    (found,) = [
        w for w in list_all(client, "/api/workflows") if w["function_name"] == function_name
    ]
    return found["id"]


def save_hello(client: httpx.Client) -> str:
    """The walkthrough's two files; returns the id of the ``hello`` workflow."""
    put(client, "shared/greeting.py", GREETING_V1)
    put(client, "workflows/hello.py", HELLO)
    return workflow_id(client, "hello")


def execute(client: httpx.Client, wid: str, **parameters: object) -> dict:
    response = client.post(f"/api/workflows/{wid}/execute", json={"parameters": parameters})
    assert response.status_code == 200, response.text
    return response.json()


def test_walkthrough(cluster: Cluster) -> None:
    with cluster.client() as client:
        put(client, "shared/greeting.py", GREETING_V1)
        written = put(client, "workflows/hello.py", HELLO)
        assert [w["name"] for w in written["workflows"]] == ["hello"]
        assert written["file"]["updated_by"] == "admin"  # who made the change
        wid = workflow_id(client, "hello")

        run = execute(client, wid, name="Ada")
        assert run["status"] == "success", run
        assert run["result"] == "Hello, Ada!"

        put(client, "shared/greeting.py", GREETING_V2)
        assert execute(client, wid, name="Ada")["result"] == "Howdy, Ada!"

        assert client.delete("/api/files/shared/greeting.py").status_code == 200
        failed = execute(client, wid)
        assert failed["status"] == "failed"
        assert failed["error"]["type"] == "ModuleNotFoundError"
        assert "shared.greeting" in failed["error"]["message"]
        traceback = failed["error"]["traceback"]
        assert "workflows/hello.py" in traceback
        assert "from shared.greeting import greet" in traceback  # the user's own source line

        stored = client.get(f"/api/executions/{failed['id']}").json()
        assert stored["status"] == "failed" and stored["error"] == failed["error"]


def test_stale_code_never_runs(cluster: Cluster) -> None:
    """Save, then execute, 200 times in a row: every run sees the save before it."""
    with cluster.client() as client:
        put(
            client,
            "workflows/version.py",
            b"from bifrost import workflow\nfrom shared.v import V\n\n"
            b"@workflow\ndef version():\n    return V\n",
        )
        put(client, "shared/v.py", b"V = -1\n")
        wid = workflow_id(client, "version")
        for i in range(200):
            put(client, "shared/v.py", f"V = {i}\n".encode())
            run = execute(client, wid)
            assert run["result"] == i, (i, run)


MIXED = b"""import time
from bifrost import workflow


@workflow
def pair() -> dict:
    import shared.a as a
    time.sleep(0.005)
    import shared.b as b
    return {"a": a.VERSION, "b": b.VERSION}
"""


def test_no_run_sees_two_generations(cluster: Cluster) -> None:
    """Saves race with executions; each run's modules all come from the generation it ran at."""
    with cluster.client() as client:
        put(client, "workflows/pair.py", MIXED)
        put(client, "shared/a.py", b"VERSION = 0\n")
        state: dict[int, tuple[int, int]] = {
            put(client, "shared/b.py", b"VERSION = 0\n")["generation"]: (0, 0)
        }
        wid = workflow_id(client, "pair")
    stop = threading.Event()

    def writer() -> None:
        a = b = 0
        with cluster.client() as client:
            for version in range(1, 61):
                a = version
                state[put(client, "shared/a.py", f"VERSION = {a}\n".encode())["generation"]] = (
                    a,
                    b,
                )
                b = version
                state[put(client, "shared/b.py", f"VERSION = {b}\n".encode())["generation"]] = (
                    a,
                    b,
                )
        stop.set()

    def runner(index: int) -> list[dict]:
        seen = []
        with cluster.client(index) as client:
            while not stop.is_set():
                seen.append(execute(client, wid))
        return seen

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        runs_futures = [pool.submit(runner, i) for i in range(3)]
        pool.submit(writer).result()
        runs = [run for future in runs_futures for run in future.result()]
    assert len(runs) > 10
    for run in runs:
        assert run["status"] == "success", run
        generation = run["ran_generation"]
        assert generation >= run["generation"]
        assert (run["result"]["a"], run["result"]["b"]) == state[generation], run


def test_bad_input_over_http(cluster: Cluster) -> None:
    with cluster.client() as client:
        put(client, "shared/ok.py", b"x = 1\n")
        before = list_all(client, "/api/files")
        cases = {
            "shared/..%2F..%2Fx.py": 422,
            "%2Fetc%2Fpasswd": 422,
            "a%5Cb.py": 422,
            "bad%00name.py": 422,
            "json.py": 422,
            "httpx.py": 422,
        }
        for path, status in cases.items():
            response = client.put(f"/api/files/{path}", content=b"x = 1\n")
            assert response.status_code == status, (path, response.text)
            assert response.json()["detail"]
        latin = client.put("/api/files/shared/latin.py", content=b"s = '\xe9'\n")
        assert latin.status_code == 422 and "UTF-8" in latin.json()["detail"]
        big = client.put("/api/files/big.txt", content=b"x" * (5 * 1024 * 1024 + 1))
        assert big.status_code == 413
        assert list_all(client, "/api/files") == before

        put(
            client,
            "workflows/broken.py",
            b"from bifrost import workflow\n\n@workflow\ndef broken():\n    return 1\n",
        )
        wid = workflow_id(client, "broken")
        saved = put(
            client,
            "workflows/broken.py",
            b"from bifrost import workflow\n\n@workflow\ndef broken(:\n",
        )
        assert "SyntaxError" in saved["file"]["diagnostics"]
        run = execute(client, wid)
        assert run["status"] == "failed" and run["error"]["type"] == "SyntaxError"
        assert "workflows/broken.py" in run["error"]["traceback"]
        assert "line 4" in run["error"]["traceback"]


def test_every_endpoint_but_health_needs_a_token(cluster: Cluster) -> None:
    base = cluster.urls[0]
    assert httpx.get(f"{base}/api/health").status_code == 200
    for method, path in [
        ("GET", "/api/files"),
        ("PUT", "/api/files/x.txt"),
        ("GET", "/api/workflows"),
    ]:
        assert httpx.request(method, base + path).status_code == 401
        bad = httpx.request(method, base + path, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401


SNOOP = b"""import glob
import os

from bifrost import workflow

SECRETS = (b"BIFROST_DATABASE_URL", b"BIFROST_REDIS_URL", b"BIFROST_ADMIN_TOKEN", b"test-admin")


@workflow
def snoop(data_dir: str) -> dict:
    leaks = []
    for path in glob.glob("/proc/[0-9]*/environ"):
        try:
            with open(path, "rb") as f:
                if any(secret in f.read() for secret in SECRETS):
                    leaks.append(path)
        except OSError:
            pass
    readable = []
    for name in ("bifrost.db", "admin-token", "objects"):
        try:
            path = os.path.join(data_dir, name)
            open(path, "rb").close() if name != "objects" else os.listdir(path)
            readable.append(name)
        except OSError:
            pass
    with open("/proc/self/status") as f:
        caps = dict(line.split(":\t") for line in f if line.startswith("Cap"))
    return {
        "capabilities": int(caps["CapEff"], 16) | int(caps["CapBnd"], 16),
        "uid": os.getuid(),
        "env": sorted(k for k in os.environ if k.startswith("BIFROST_") and "RUNTIME" not in k),
        "leaks": leaks,
        "readable": readable,
    }
"""


def test_executions_cannot_reach_credentials(cluster: Cluster) -> None:
    """Not in the environment, not in any other process's environment, not in the data dir."""
    with cluster.client() as client:
        put(client, "workflows/snoop.py", SNOOP)
        data_dir = cluster.backend.env["BIFROST_DATA_DIR"]
        run = execute(client, workflow_id(client, "snoop"), data_dir=data_dir)
        assert run["status"] == "success", run["error"]
        found = run["result"]
        assert found["env"] == [] or found["env"] == ["BIFROST_EXECUTION_ID"], found
        assert found["leaks"] == [], found
        assert found["readable"] == [], found
        # Executions switch to an unprivileged account, or stay root without any capability.
        assert found["uid"] != 0 or found["capabilities"] == 0, found


def test_rollback_path_imports_from_an_exported_directory(backend: Backend, tmp_path: Path) -> None:
    """`bifrost export DIR` + BIFROST_VIRTUAL_IMPORTS=false: executions import plain files."""
    logs = tmp_path / "logs"
    logs.mkdir()
    exported = tmp_path / "exported"
    cluster = Cluster(backend, logs).start()
    try:
        with cluster.client() as client:
            put(client, "shared/greeting.py", GREETING_V1)
            put(client, "workflows/hello.py", HELLO)
    finally:
        cluster.stop()
    env = {**os.environ, **backend.env}
    subprocess.run([BIFROST, "export", str(exported)], env=env, check=True, capture_output=True)
    assert (exported / "shared" / "greeting.py").read_bytes() == GREETING_V1

    rollback = {"BIFROST_VIRTUAL_IMPORTS": "false", "BIFROST_EXPORT_DIR": str(exported)}
    cluster = Cluster(backend, logs).start(extra_env=rollback)
    try:
        with cluster.client() as client:
            wid = workflow_id(client, "hello")
            run = execute(client, wid)
            assert run["result"] == "Hello, world!", run["error"]
            put(client, "shared/greeting.py", GREETING_V2)  # not exported: not seen
            assert execute(client, wid)["result"] == "Hello, world!"
            (exported / "shared" / "greeting.py").write_bytes(GREETING_V2)
            assert execute(client, wid)["result"] == "Howdy, world!"
    finally:
        cluster.stop()


def test_live_events_over_the_websocket(cluster: Cluster) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    ws_url = cluster.urls[0].replace("http://", "ws://") + "/api/ws"
    with cluster.client() as client:
        wid = save_hello(client)
        with connect(
            ws_url, additional_headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as socket:
            started = client.post(f"/api/workflows/{wid}/execute", json={"wait": False}).json()
            socket.send(json.dumps({"subscribe": f"execution:{started['id']}"}))
            assert json.loads(socket.recv(timeout=10)) == {
                "subscribed": f"execution:{started['id']}"
            }
            # The run may have finished before the subscription: then the record has it.
            try:
                event = json.loads(socket.recv(timeout=10))["event"]
                assert event["status"] == "success" and event["result"] == "Hello, world!"
            except TimeoutError:
                record = client.get(f"/api/executions/{started['id']}").json()
                assert record["status"] == "success"
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url, additional_headers={"Authorization": "Bearer wrong"})
        assert refused.value.response.status_code == 403
