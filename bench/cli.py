"""Wall time of the client commands `bifrost files ls` and `bifrost run` on a warm server.

Side by side in one run, interleaved: the CLI as it is, and the same CLI made to load first what
the old one loaded to find its token file (settings, the store, the cache, the queue: SQLAlchemy,
SAQ, redis-py and pydantic). Target: under 0.3 s for the client commands.

    .venv/bin/python -m bench.cli [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import httpx

from bench.common import BIFROST, TOKEN, Backend, percentile, stop, wait_healthy
from tests.servers import free_port

# What `bifrost files ls` imported before the CLI became a client (through bifrost.init).
OLD_IMPORTS = (
    "bifrost.settings",
    "bifrost.store.files",
    "bifrost.store.migrate",
    "bifrost.cache.redis",
    "bifrost.cache.local",
    "bifrost.worker.dispatch",
    "bifrost.packages.service",
)
OLD = f"import {', '.join(OLD_IMPORTS)}; from bifrost.cli import app; app()"
WORKFLOW = (
    b"from bifrost import workflow\n\n@workflow\ndef trivial(x: int = 1) -> int:\n    return x\n"
)


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    backend = Backend("embedded")
    port = free_port()
    proc = backend.spawn("up", "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **backend.env, "BIFROST_API_URL": url}
    try:
        wait_healthy(url)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            client.put("/api/files/workflows/trivial.py", content=WORKFLOW).raise_for_status()
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "files ls (new)": [BIFROST, "files", "ls"],
            "files ls (old imports)": [sys.executable, "-c", OLD, "files", "ls"],
            "run (new)": [BIFROST, "run", "trivial"],
            "run (old imports)": [sys.executable, "-c", OLD, "run", "trivial"],
        }
        for command in commands.values():  # warm the page cache and the server
            timed(command, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, command in commands.items():
                times[name].append(timed(command, env))
    finally:
        stop(proc)
        backend.close()
    print(f"{'command':<24} {'median':>8} {'p90':>8} {'min':>8}  ({args.rounds} rounds)")
    for name, values in times.items():
        print(
            f"{name:<24} {statistics.median(values):>7.3f}s {percentile(values, 90):>7.3f}s "
            f"{min(values):>7.3f}s"
        )


if __name__ == "__main__":
    main()
