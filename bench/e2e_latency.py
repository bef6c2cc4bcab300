"""End-to-end latency of a trivial workflow that imports three workspace modules.

Through the HTTP API on a warm worker, on three deployments: ``embedded`` (`bifrost up` on
SQLite), ``postgres`` (`bifrost up` on PostgreSQL + Redis: SAQ, one process) and ``distributed``
(`bifrost api` + `bifrost worker` on PostgreSQL + Redis). p50 and p99 of sequential runs, then
executions per second with several concurrent clients.

With ``--before SHA`` the same measurements run on that commit too (checked out into its own
worktree and venv by ``bench.compare.checkout``), interleaved round by round (before, now, now,
before, ...) so that the load of a shared machine falls on both alike, followed by the round
trips per execution of each tree (``bench.round_trips``). Targets (issue 11): p50 at most 6 ms
embedded and 8 ms on PostgreSQL + Redis, p99 at most twice p50, 250 runs/s with 8 clients.

    .venv/bin/python -m bench.e2e_latency [--runs 300] [--seconds 5] [--clients 8]
    .venv/bin/python -m bench.e2e_latency --before 1a3b3aa [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict

import httpx

from bench.common import BIFROST, ROOT, TOKEN, Backend, percentile, stop, wait_healthy
from tests.servers import free_port

WORKFLOW = b"""from bifrost import workflow

from shared.a import A
from shared.b import B
from shared.c import C


@workflow
def trivial(x: int = 1) -> int:
    return A + B + C + x
"""

DEPLOYMENTS = ("embedded", "postgres", "distributed")
FIGURES = ("p50", "p99", "per_s")


def _start(backend: Backend, deployment: str, port: int) -> list[subprocess.Popen]:
    if deployment == "distributed":
        return [backend.spawn("api", "--port", str(port)), backend.spawn("worker")]
    return [backend.spawn("up", "--port", str(port))]


def measure(
    kind: str,
    runs: int,
    seconds: float,
    clients: int,
    env: dict[str, str] | None = None,
    bifrost: str = BIFROST,
) -> dict[str, float]:
    """``kind``: "embedded", "postgres" (`bifrost up` on PostgreSQL + Redis) or "distributed"."""
    backend = Backend("embedded" if kind == "embedded" else "postgres", bifrost)
    backend.env.update(env or {})
    port = free_port()
    procs = _start(backend, kind, port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            for name in "abc":
                client.put(f"/api/files/shared/{name}.py", content=f"{name.upper()} = 1\n".encode())
            wid = client.put("/api/files/workflows/trivial.py", content=WORKFLOW).json()[
                "workflows"
            ][0]["id"]

            def once(c: httpx.Client) -> float:
                started = time.perf_counter()
                body = c.post(f"/api/workflows/{wid}/execute", json={"parameters": {"x": 1}}).json()
                elapsed = (time.perf_counter() - started) * 1000
                assert body["status"] == "success" and body["result"] == 4, body
                return elapsed

            for _ in range(30):
                once(client)
            latencies = [once(client) for _ in range(runs)]

        done = [0] * clients
        stop_at = time.perf_counter() + seconds

        def hammer(index: int) -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=30) as c:
                once(c)  # the connection is open before the clock runs
                while time.perf_counter() < stop_at:
                    once(c)
                    done[index] += 1

        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        throughput = sum(done) / (time.perf_counter() - started) if seconds > 0 else 0.0
        return {
            "p50": statistics.median(latencies),
            "p99": percentile(latencies, 99),
            "mean": statistics.fmean(latencies),
            "per_s": throughput,
        }
    finally:
        for proc in procs:
            stop(proc)
        backend.close()


def round_trips(python: str) -> dict[str, dict]:
    """``bench.round_trips`` of this tree, run by ``python`` (whose venv holds the bifrost
    to count: this tree's or an older checkout's)."""
    out = subprocess.run(
        [python, "-m", "bench.round_trips", "--json", "--runs", "100"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        if line.startswith("{"):
            figures = json.loads(line)
            found[figures.pop("backend")] = figures
    return found


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def compare(args: argparse.Namespace) -> None:
    from bench.compare import checkout, remove

    before = checkout(args.before)
    trees = {before.label: before.bifrost, "now": BIFROST}
    samples: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    print(f"start {time.strftime('%H:%M:%S')}, {load()}", file=sys.stderr, flush=True)
    try:
        for round_ in range(args.rounds):
            labels = list(trees) if round_ % 2 == 0 else list(trees)[::-1]
            for kind in args.deployments:
                for label in labels:
                    r = measure(kind, args.runs, args.seconds, args.clients, bifrost=trees[label])
                    for name in FIGURES:
                        samples[kind, name, label].append(r[name])
            print(
                f"round {round_ + 1}/{args.rounds} done {time.strftime('%H:%M:%S')}, {load()}",
                file=sys.stderr,
                flush=True,
            )
        counts = {before.label: round_trips(before.python), "now": round_trips(sys.executable)}
    finally:
        if not args.keep:
            remove(before)
    print(
        f"median of {args.rounds} rounds, {args.runs} sequential runs each, {args.clients} "
        f"clients for {args.seconds:g} s; {load()}"
    )
    print(f"{'deployment':<12} {'figure':<8} {before.label:>18} {'now':>9} {'now/before':>11}")
    for kind in args.deployments:
        for name in FIGURES:
            b = statistics.median(samples[kind, name, before.label])
            n = statistics.median(samples[kind, name, "now"])
            shown = "runs/s" if name == "per_s" else f"{name} ms"
            print(f"{kind:<12} {shown:<8} {b:>18.2f} {n:>9.2f} {n / b:>11.2f}")
    print("round trips per execution (bench.round_trips, in process):")
    for label, per_backend in counts.items():
        for kind, figures in per_backend.items():
            print(f"  {label:<18} {kind:<9} {json.dumps(figures)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--deployments", nargs="+", choices=DEPLOYMENTS, default=DEPLOYMENTS)
    parser.add_argument("--before", help="also measure this commit, interleaved")
    parser.add_argument("--rounds", type=int, default=3, help="with --before")
    parser.add_argument("--keep", action="store_true", help="keep the before worktree")
    args = parser.parse_args()
    if args.before:
        compare(args)
        return
    print(load())
    print(f"{'deployment':<12} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'runs/s':>8}")
    for kind in args.deployments:
        r = measure(kind, args.runs, args.seconds, args.clients)
        print(f"{kind:<12} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['mean']:>8.2f} {r['per_s']:>8.1f}")
    print("targets: p50 <= 6 ms embedded, <= 8 ms PostgreSQL + Redis; p99 <= 2x p50; 250 runs/s")


if __name__ == "__main__":
    main()
