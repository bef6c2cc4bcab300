"""Worker start until ready, with 100 and with 10,000 workspace files, side by side.

Workers never sync files, so start-up must not grow with the workspace: target ratio at most 1.2.
Distributed: `bifrost worker` until its heartbeat is in Redis. Embedded: `bifrost up` until
/api/health lists its worker (that includes init: migrations and warming the cache).

    .venv/bin/python -m bench.worker_start [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import time

import redis

from bench.common import REDIS_URL, Backend, stop, wait_healthy
from bench.e2e_latency import free_port
from bifrost.settings import Settings
from bifrost.store.db import Database
from bifrost.store.models import Workspace, WorkspaceFile
from bifrost.workspace.entities import git_blob_sha


async def populate(backend: Backend, count: int) -> None:
    """Insert ``count`` module rows in bulk (the write path is measured elsewhere)."""
    settings = Settings(
        **{
            k.removeprefix("BIFROST_").lower(): v
            for k, v in backend.env.items()
            if k.startswith("BIFROST_")
        }
    )
    db = Database(settings)
    rows = []
    for i in range(count):
        content = f"VALUE = {i}\n\ndef f():\n    return VALUE\n".encode()
        rows.append(
            {
                "path": f"pkg{i // 100}/mod{i}.py",
                "entity_type": "module",
                "content": content,
                "in_object_store": False,
                "content_hash": hashlib.sha256(content).hexdigest(),
                "git_sha": git_blob_sha(content),
                "size": len(content),
                "content_type": "text/x-python",
                "generation": 1,
            }
        )
    async with db.write() as session:
        await session.execute(WorkspaceFile.__table__.insert(), rows)
        await session.execute(Workspace.__table__.update().values(generation=1))
    await db.close()


def time_worker(backend: Backend) -> float:
    client = redis.Redis.from_url(REDIS_URL)
    pattern = f"{backend.prefix}worker:*"
    for key in client.scan_iter(match=pattern):
        client.delete(key)
    started = time.perf_counter()
    proc = backend.spawn("worker")
    try:
        while not any(True for _ in client.scan_iter(match=pattern)):
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited; see {backend.tmp}")
            time.sleep(0.005)
        return time.perf_counter() - started
    finally:
        stop(proc)


def time_up(backend: Backend) -> float:
    port = free_port()
    started = time.perf_counter()
    proc = backend.spawn("up", "--port", str(port))
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        return time.perf_counter() - started
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for kind, timer in (("postgres", time_worker), ("embedded", time_up)):
        small, large = Backend(kind), Backend(kind)
        try:
            asyncio.run(populate(small, 100))
            asyncio.run(populate(large, 10_000))
            if kind == "postgres":  # the init container warms the cache for the workers
                small.init()
                large.init()
            times: dict[int, list[float]] = {100: [], 10_000: []}
            timer(small)  # first start pays for cold OS caches; not counted
            for _ in range(args.rounds):
                times[100].append(timer(small))
                times[10_000].append(timer(large))
            a, b = statistics.median(times[100]), statistics.median(times[10_000])
            what = "bifrost worker" if kind == "postgres" else "bifrost up"
            print(
                f"{kind:<9} {what:<15} 100 files: {a * 1000:7.0f} ms   10,000 files: "
                f"{b * 1000:7.0f} ms   ratio {b / a:.2f} (target <= 1.2)"
            )
        finally:
            small.close()
            large.close()


if __name__ == "__main__":
    main()
