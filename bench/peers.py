"""Bifrost side by side with the job queues people use instead, in one run, interleaved.

The same trivial workflow (three imports from three helper modules, returns a sum), from the
caller's request to its result, through

- Bifrost embedded (``bifrost up`` on SQLite), over HTTP: ``POST /api/workflows/{id}/execute``;
- Bifrost on PostgreSQL + Redis (``bifrost up``), over HTTP, the same call;
- RQ: ``Queue.enqueue`` to ``Job.latest_result`` (a blocking read), ``rq worker`` with the
  default ``rq.Worker``, which forks a work horse per job (it imports the task module there);
- Celery: ``delay`` to ``AsyncResult.get``, Redis broker and result backend, prefork pool.

All on the local Redis: RQ in db 13 and Celery in db 14 (their own keys only are removed at the
end), Bifrost under a fresh key prefix. Each system gets the same concurrency (``--workers``:
Bifrost's ``BIFROST_WORKER_CONCURRENCY``, that many RQ workers, Celery's ``-c``). Latency: one
client, the systems taking turns (``--batch`` runs each, ``--runs`` in all). Throughput:
``--clients`` client processes at once for ``--seconds`` per turn, the systems taking turns
``--rounds`` times. The peers are benchmark-only dependencies (``pip install -e '.[bench]'``;
``make bench`` installs them).

    .venv/bin/python -m bench.peers [--runs 400] [--clients 8] [--seconds 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import TOKEN, Backend, percentile, stop, wait_healthy
from tests.servers import free_port

REDIS = "redis://127.0.0.1:6379"
RQ_DB, CELERY_DB = 13, 14
HELPERS = {"a": "A = 1\n", "b": "B = 1\n", "c": "C = 1\n"}
WORKFLOW = b"""from bifrost import workflow

from shared.a import A
from shared.b import B
from shared.c import C


@workflow
def trivial(x: int = 1) -> int:
    return A + B + C + x
"""
TASKS = """from peers_shared.a import A
from peers_shared.b import B
from peers_shared.c import C


def trivial(x: int = 1) -> int:
    return A + B + C + x
"""
CELERY_APP = """import os

from celery import Celery

from peers_tasks import trivial as _trivial

URL = os.environ["PEERS_CELERY_URL"]
app = Celery("peers", broker=URL, backend=URL)
app.conf.update(
    task_default_queue=os.environ["PEERS_CELERY_QUEUE"],
    worker_prefetch_multiplier=1,
    result_expires=600,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="peers.trivial")
def trivial(x: int = 1) -> int:
    return _trivial(x)
"""
Spec = dict[str, Any]  # how a client reaches one system (picklable, for client processes)


# -- clients: one call, from request to result ------------------------------------------------
def connect(spec: Spec) -> Callable[[], None]:
    """A function doing one run of the trivial workflow on ``spec``'s system."""
    if spec["kind"] == "bifrost":
        import httpx

        client = httpx.Client(
            base_url=spec["url"], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )
        path = f"/api/workflows/{spec['workflow']}/execute"

        def bifrost() -> None:
            body = client.post(path, json={"parameters": {"x": 1}}).json()
            assert body["status"] == "success" and body["result"] == 4, body

        return bifrost
    if spec["kind"] == "rq":
        from redis import Redis
        from rq import Queue

        queue = Queue(spec["queue"], connection=Redis.from_url(spec["url"]))

        def rq() -> None:
            result = queue.enqueue("peers_tasks.trivial", 1).latest_result(timeout=30)
            assert result is not None and result.return_value == 4, result

        return rq
    os.environ.update(PEERS_CELERY_URL=spec["url"], PEERS_CELERY_QUEUE=spec["queue"])
    if spec["path"] not in sys.path:
        sys.path.insert(0, spec["path"])
    task = importlib.import_module("peers_celery").trivial

    def celery() -> None:
        assert task.delay(1).get(timeout=30) == 4

    return celery


_CLIENTS: dict[str, Callable[[], None]] = {}


def warm(specs: list[Spec], hold_until: float) -> None:
    """In a client process: connect to every system, one run each; holding on until
    ``hold_until`` makes every process of the pool take one of these."""
    for spec in specs:
        _CLIENTS[spec["name"]] = call = connect(spec)
        call()
    time.sleep(max(0.0, hold_until - time.time()))


def hammer(spec: Spec, start_at: float, stop_at: float) -> tuple[int, float]:
    """In a client process: runs done from ``start_at`` until ``stop_at``, and when it ended."""
    call = _CLIENTS[spec["name"]]
    time.sleep(max(0.0, start_at - time.time()))
    done = 0
    while time.time() < stop_at:
        call()
        done += 1
    return done, time.time()


# -- systems ----------------------------------------------------------------------------------
class Systems:
    """Every system running at once, each idle while another is measured."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.procs: list[subprocess.Popen] = []
        self.backends: list[Backend] = []
        self.specs: list[Spec] = []
        self.dir = Path(tempfile.mkdtemp(prefix="bifrost-bench-peers-"))
        self.tag = uuid.uuid4().hex[:8]

    def start(self) -> None:
        for kind in ("embedded", "postgres"):
            self.specs.append(self._bifrost(kind))
        self._write_tasks()
        self.specs.append(self._rq())
        self.specs.append(self._celery())
        for spec in self.specs:
            ready(spec)

    def _bifrost(self, kind: str) -> Spec:
        backend = Backend(kind)
        backend.env["BIFROST_WORKER_CONCURRENCY"] = str(self.workers)
        self.backends.append(backend)
        port = free_port()
        self.procs.append(backend.spawn("up", "--port", str(port)))
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url)
        import httpx

        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            for name, content in HELPERS.items():
                client.put(f"/api/files/shared/{name}.py", content=content.encode())
            answer = client.put("/api/files/workflows/trivial.py", content=WORKFLOW)
            answer.raise_for_status()
            workflow = answer.json()["workflows"][0]["id"]
        label = "Bifrost embedded" if kind == "embedded" else "Bifrost PostgreSQL + Redis"
        return {"name": label, "kind": "bifrost", "url": url, "workflow": workflow}

    def _write_tasks(self) -> None:
        package = self.dir / "peers_shared"
        package.mkdir()
        (package / "__init__.py").write_text("")
        for name, content in HELPERS.items():
            (package / f"{name}.py").write_text(content)
        (self.dir / "peers_tasks.py").write_text(TASKS)
        (self.dir / "peers_celery.py").write_text(CELERY_APP)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(self.dir)], check=True)

    def _env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(self.dir)}

    def _rq(self) -> Spec:
        url, queue = f"{REDIS}/{RQ_DB}", f"peers-{self.tag}"
        rq = str(Path(sys.executable).with_name("rq"))
        for i in range(self.workers):
            command = [rq, "worker", "-w", "rq.Worker", "-u", url, "-P", str(self.dir)]
            command += ["-q", "-n", f"{queue}-{i}", queue]
            self.procs.append(self._spawn(command, f"rq{i}"))
        return {"name": "RQ (fork per job)", "kind": "rq", "url": url, "queue": queue}

    def _celery(self) -> Spec:
        url, queue = f"{REDIS}/{CELERY_DB}", f"peers-{self.tag}"
        command = [sys.executable, "-m", "celery", "-A", "peers_celery", "worker", "-P"]
        command += ["prefork", "-c", str(self.workers), "-l", "WARNING", "-Q", queue]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        env = {"PEERS_CELERY_URL": url, "PEERS_CELERY_QUEUE": queue}
        self.procs.append(self._spawn(command, "celery", env))
        spec = {"name": "Celery (prefork)", "kind": "celery", "url": url, "queue": queue}
        return {**spec, "path": str(self.dir)}

    def _spawn(self, command: list[str], log: str, env: dict[str, str] | None = None) -> Any:
        out = open(self.dir / f"{log}.log", "ab")  # noqa: SIM115
        return subprocess.Popen(
            command, cwd=self.dir, env={**self._env(), **(env or {})}, stdout=out, stderr=out
        )

    def close(self) -> None:
        for proc in self.procs:
            stop(proc)
        for backend in self.backends:
            backend.close()
        forget_keys(f"{REDIS}/{RQ_DB}", ["rq:*"])
        forget_keys(f"{REDIS}/{CELERY_DB}", ["celery*", "_kombu*", "unacked*", "peers-*"])
        shutil.rmtree(self.dir, ignore_errors=True)


def ready(spec: Spec, timeout: float = 60.0) -> None:
    """Until one run succeeds (the workers are up and connected)."""
    deadline = time.monotonic() + timeout
    call = connect(spec)
    while True:
        try:
            call()
            return
        except Exception:  # boundary: whatever a starting system answers, try again
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def forget_keys(url: str, patterns: list[str]) -> None:
    """Remove what the bench left in its own Redis databases (never db 0)."""
    import redis

    client = redis.Redis.from_url(url)
    for pattern in patterns:
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)


# -- measuring ----------------------------------------------------------------------------------
def latencies(specs: list[Spec], runs: int, batch: int) -> dict[str, list[float]]:
    """Sequential runs, one client; the systems take turns, ``batch`` runs at a time."""
    calls = {spec["name"]: connect(spec) for spec in specs}
    for call in calls.values():
        for _ in range(30):  # warm: connections, caches, spares
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for turn in range(max(1, runs // batch)):
        order = list(calls.items())
        order = order[turn % len(order) :] + order[: turn % len(order)]
        for name, call in order:
            for _ in range(batch):
                started = time.perf_counter()
                call()
                samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def throughput(specs: list[Spec], clients: int, seconds: float, rounds: int) -> dict[str, float]:
    """Runs per second with ``clients`` client processes at once; the systems take turns."""
    done = {spec["name"]: 0 for spec in specs}
    spent = {spec["name"]: 0.0 for spec in specs}
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        pool.starmap(warm, [(specs, time.time() + 5.0)] * clients, chunksize=1)
        for turn in range(rounds):
            order = specs[turn % len(specs) :] + specs[: turn % len(specs)]
            for spec in order:
                start_at = time.time() + 0.5  # every client process has taken its task
                stop_at = start_at + seconds
                args = [(spec, start_at, stop_at)] * clients
                results = pool.starmap(hammer, args, chunksize=1)
                done[spec["name"]] += sum(count for count, _ in results)
                spent[spec["name"]] += max(end for _, end in results) - start_at
    return {name: done[name] / max(spent[name], 1e-9) for name in done}


def report(samples: dict[str, list[float]], per_s: dict[str, float], args: Any) -> None:
    ours = statistics.median(samples["Bifrost embedded"])
    print(f"\n{'system':<28} {'p50 ms':>8} {'p99 ms':>8} {f'runs/s ({args.clients} cl.)':>16}")
    for name, values in samples.items():
        p50, p99 = statistics.median(values), percentile(values, 99)
        print(f"{name:<28} {p50:>8.2f} {p99:>8.2f} {per_s[name]:>16.1f}")
    print("\nratios (Bifrost / peer; below 1 is Bifrost faster)")
    for name in ("Bifrost embedded", "Bifrost PostgreSQL + Redis"):
        p50 = statistics.median(samples[name])
        for peer in ("RQ (fork per job)", "Celery (prefork)"):
            peer_p50 = statistics.median(samples[peer])
            print(
                f"  {name:<27} vs {peer:<18} p50 {p50 / peer_p50:5.2f}"
                f"   runs/s {per_s[name] / max(per_s[peer], 1e-9):5.2f}x"
            )
    rq = statistics.median(samples["RQ (fork per job)"])
    celery = statistics.median(samples["Celery (prefork)"])
    met = ours <= rq / 3 and ours < celery
    print(f"target (embedded p50 <= RQ/3 and < Celery): {'met' if met else 'NOT met'}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400, help="sequential runs per system")
    parser.add_argument("--batch", type=int, default=20, help="runs per turn when interleaving")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0, help="per throughput turn")
    parser.add_argument("--rounds", type=int, default=3, help="throughput turns per system")
    parser.add_argument("--workers", type=int, default=4, help="concurrency of each system")
    args = parser.parse_args(argv)
    for name in ("runs", "batch", "clients", "rounds", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    for module in ("rq", "celery"):
        if importlib.util.find_spec(module) is None:
            sys.exit(f"{module} is not installed: pip install -e '.[bench]' (or make bench)")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    systems = Systems(args.workers)
    try:
        systems.start()
        samples = latencies(systems.specs, args.runs, args.batch)
        per_s = throughput(systems.specs, args.clients, args.seconds, args.rounds)
    finally:
        systems.close()
    report(samples, per_s, args)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
