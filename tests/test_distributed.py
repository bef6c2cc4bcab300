"""PostgreSQL + Redis with separate `bifrost api` and `bifrost worker` processes.

The Redis-down tests run a private redis-server on a free port, so stopping it never disturbs the
shared one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import Backend, free_port
from tests.serving import Cluster
from tests.test_http import GREETING_V2, execute, put, save_hello, workflow_id

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path


def test_two_apis_two_workers(backend: Backend, logs: Path) -> None:
    cluster = Cluster(backend, logs).start(apis=2, workers=2)
    try:
        with cluster.client(0) as first, cluster.client(1) as second:
            wid = save_hello(first)
            assert workflow_id(second, "hello") == wid
            assert execute(second, wid, name="Bo")["result"] == "Hello, Bo!"
            put(second, "shared/greeting.py", GREETING_V2)
            workers = set()
            for index in range(12):
                run = execute((first, second)[index % 2], wid)
                assert run["result"] == "Howdy, world!"
                workers.add(client_worker(first, run["id"]))
            assert len(workers) == 2, "both workers should have taken jobs"
            assert len(first.get("/api/health").json()["workers"]) == 2
    finally:
        cluster.stop()


def client_worker(client, execution_id: str) -> str:
    return client.get(f"/api/executions/{execution_id}").json()["worker"]


def test_cold_cache_fills_itself(backend: Backend, logs: Path) -> None:
    cluster = Cluster(backend, logs).start(apis=1, workers=1)
    try:
        with cluster.client() as client:
            wid = save_hello(client)
            assert execute(client, wid)["result"] == "Hello, world!"
            flush_prefix(backend)
            assert execute(client, wid)["result"] == "Hello, world!"
            put(client, "shared/greeting.py", GREETING_V2)
            flush_prefix(backend, only="blob:")
            assert execute(client, wid)["result"] == "Howdy, world!"
    finally:
        cluster.stop()


def flush_prefix(backend: Backend, only: str = "") -> None:
    client = redis.Redis.from_url(backend.env["BIFROST_REDIS_URL"])
    prefix = backend.env["BIFROST_CACHE_PREFIX"] + only
    keys = [k for k in client.scan_iter(match=f"{prefix}*", count=1000) if b"worker:" not in k]
    if keys:
        client.delete(*keys)


class PrivateRedis:
    """A redis-server of this test's own, which it may pause, kill and restart."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                redis.Redis(port=self.port).ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def pause(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    if server.proc and server.proc.poll() is None:
        server.resume()
        server.kill()


@pytest.mark.parametrize("outage", ["restart-empty", "pause-keep-data"])
def test_redis_down(backend: Backend, logs: Path, private_redis: PrivateRedis, outage: str) -> None:
    """Writes succeed while Redis is down; runs fail clearly; the cache is repaired after."""
    backend.env["BIFROST_REDIS_URL"] = private_redis.url
    cluster = Cluster(backend, logs).start(apis=1, workers=1)
    try:
        with cluster.client() as client:
            wid = save_hello(client)
            assert execute(client, wid)["result"] == "Hello, world!"

            private_redis.kill() if outage == "restart-empty" else private_redis.pause()
            written = put(client, "shared/greeting.py", GREETING_V2)  # the database is enough
            assert written["changed"]
            response = client.post(f"/api/workflows/{wid}/execute", json={"parameters": {}})
            assert response.status_code == 503
            assert "Redis" in response.json()["detail"]

            private_redis.start() if outage == "restart-empty" else private_redis.resume()
            cluster.wait_ready()
            deadline = time.monotonic() + 30
            while True:
                response = client.post(f"/api/workflows/{wid}/execute", json={"parameters": {}})
                if response.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert response.status_code == 200, response.text
            assert response.json()["result"] == "Howdy, world!"  # never the stale cached code
    finally:
        cluster.stop()


SLOW = b"""import time

from bifrost import workflow


@workflow
def slow(seconds: float = 2.0) -> str:
    time.sleep(seconds)
    return "finished"
"""


def test_a_stopping_worker_finishes_its_running_executions(backend: Backend, logs: Path) -> None:
    cluster = Cluster(backend, logs).start(apis=1, workers=1)
    try:
        with cluster.client() as client:
            put(client, "workflows/slow.py", SLOW)
            wid = workflow_id(client, "slow")
            started = client.post(f"/api/workflows/{wid}/execute", json={"wait": False})
            assert started.status_code == 202
            execution = started.json()["id"]
            deadline = time.monotonic() + 10
            while client.get(f"/api/executions/{execution}").json()["status"] == "pending":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            worker = cluster.processes[-1]
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0
            record = client.get(f"/api/executions/{execution}").json()
            assert record["status"] == "success" and record["result"] == "finished", record
    finally:
        cluster.stop()
