"""End-to-end latency of a trivial workflow that imports three workspace modules.

Through the HTTP API on a warm worker (`bifrost up`), on both back ends in one run: p50 and p99 of
sequential runs, then executions per second with several clients. Target: p50 under 15 ms.

    .venv/bin/python -m bench.e2e_latency [--runs 300] [--seconds 5] [--clients 4]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import httpx

from bench.common import BIFROST, TOKEN, Backend, percentile, stop, wait_healthy
from tests.servers import free_port

WORKFLOW = b"""from bifrost import workflow

from shared.a import A
from shared.b import B
from shared.c import C


@workflow
def trivial(x: int = 1) -> int:
    return A + B + C + x
"""


def measure(
    kind: str,
    runs: int,
    seconds: float,
    clients: int,
    env: dict[str, str] | None = None,
    bifrost: str = BIFROST,
) -> dict[str, float]:
    backend = Backend(kind, bifrost)
    backend.env.update(env or {})
    port = free_port()
    proc = backend.spawn("up", "--port", str(port))
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
                while time.perf_counter() < stop_at:
                    once(c)
                    done[index] += 1

        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        throughput = sum(done) / (time.perf_counter() - started)
        return {
            "p50": statistics.median(latencies),
            "p99": percentile(latencies, 99),
            "mean": statistics.fmean(latencies),
            "per_s": throughput,
        }
    finally:
        stop(proc)
        backend.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    print(f"{'back end':<10} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'runs/s':>8}")
    for kind in ("embedded", "postgres"):
        r = measure(kind, args.runs, args.seconds, args.clients)
        print(f"{kind:<10} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['mean']:>8.2f} {r['per_s']:>8.1f}")
    print("target: p50 < 15 ms on a warm worker")


if __name__ == "__main__":
    main()
