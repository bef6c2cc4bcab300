"""What a one-file change costs to reach the template, at 100 and 10,000 files: the change alone
(delta) vs the whole manifest, side by side in one run, interleaved (not part of the tests).

Two executors run at once, each with its template, over the same kind of in-memory code source:
one hands out each generation with its change (as the embedded cache does, and the worker's
source does for Redis), the other without (the whole manifest every time, as before). Each
round changes one file that the workflow does not import, then measures

- bytes: the frame the executor sent to teach the template the new generation;
- teach: from the executor sending it to the template having stored it (the update, then an
  ``info`` round trip: the template reads its socket in order); "no update" is that round trip
  alone, just before;
- first run: ``Executor.run`` of a workflow importing three workspace modules, right after the
  change (the template also pins the new generation and forks a fresh child).

    .venv/bin/python -m bench.template_update [--files 100 10000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any

from bench.common import percentile
from bifrost.runtime.protocol import ExecutionRequest
from bifrost.worker.executor import Executor
from tests.runtime.conftest import MemorySource, private_root

WORKSPACE = {
    "shared/__init__.py": "",
    "shared/a.py": "def a():\n    return 1\n",
    "shared/b.py": "def b():\n    return 2\n",
    "shared/c.py": "def c():\n    return 3\n",
    "workflows/hello.py": (
        "from bifrost import workflow\n"
        "from shared.a import a\n"
        "from shared.b import b\n"
        "from shared.c import c\n"
        "\n"
        "@workflow\n"
        "def main():\n"
        "    return a() + b() + c()\n"
    ),
}
MODES = ("delta", "manifest")


def workspace(files: int) -> dict[str, str]:
    """``files`` paths: the workflow and its helpers, the rest modules in folders of 100."""
    filler = files - len(WORKSPACE)
    return {
        **WORKSPACE,
        **{f"lib/p{i // 100}/m{i}.py": f"VALUE = {i}\n" for i in range(filler)},
    }


class Side:
    """One executor and its source, taught with deltas or with whole manifests."""

    def __init__(self, mode: str, files: int) -> None:
        self.mode = mode
        self.source = MemorySource()
        self.source.deltas = mode == "delta"
        self.source.put(workspace(files))
        self.executor = Executor(self.source, root=private_root(), concurrency=2)
        self.samples: dict[str, list[float]] = {"bytes": [], "info": [], "teach": [], "run": []}
        self.edits = 0

    async def run(self) -> float:
        request = ExecutionRequest(
            uuid.uuid4().hex, "workflows.hello", "main", {}, self.source.generation, 30, 512
        )
        started = time.perf_counter()
        outcome = await self.executor.run(request)
        elapsed = time.perf_counter() - started
        assert outcome.status == "success" and outcome.result == 6, outcome.error
        return elapsed

    def change(self) -> None:
        self.edits += 1
        self.source.put({"lib/p0/m0.py": f"VALUE = {self.edits}\n"})

    async def teach_round(self) -> None:
        """Change one file; time the update alone (send, template stored it), and the same
        round trip without an update just before it (what the update adds is the difference)."""
        self.change()
        snapshot = await self.source.snapshot(self.source.generation)
        worker: Any = self.executor._worker  # the bench looks inside: the update is internal
        started = time.perf_counter()
        await worker.info()
        self.samples["info"].append(time.perf_counter() - started)
        sent = self.executor.updates[f"{self.mode}_bytes"]
        started = time.perf_counter()
        worker.teach(snapshot)
        await worker.info()
        self.samples["teach"].append(time.perf_counter() - started)
        self.samples["bytes"].append(self.executor.updates[f"{self.mode}_bytes"] - sent)
        await self.run()  # pins it, so the next round's base is the current generation

    async def run_round(self) -> None:
        """Change one file; time the first run that sees it."""
        self.change()
        self.samples["run"].append(await self.run())


async def measure(files: int, rounds: int) -> dict[str, Side]:
    sides = {mode: Side(mode, files) for mode in MODES}
    for side in sides.values():
        await side.executor.start()
    try:
        for side in sides.values():
            for _ in range(5):  # warm: blobs fetched, code compiled, spares forked
                await side.run()
        for _ in range(rounds):
            for side in sides.values():
                await side.teach_round()
                await asyncio.sleep(0.02)  # spares refilled, as between requests
                await side.run_round()
                await asyncio.sleep(0.02)
        for side in sides.values():
            taught = side.executor.updates
            assert taught[side.mode] >= 2 * rounds, f"{side.mode}: {dict(taught)}"
            if side.mode == "delta":
                assert taught["manifest"] == 1, f"a delta round fell back: {dict(taught)}"
    finally:
        for side in sides.values():
            await side.executor.stop()
    return sides


def report(files: int, sides: dict[str, Side]) -> None:
    print(f"\n{files:,} files")
    columns = ("bytes", "no update", "teach p50", "teach p99", "run p50", "run p99")
    print(f"{'':9}" + "".join(f"{name:>11}" for name in columns))
    for mode, side in sides.items():
        s = side.samples
        cells = [f"{statistics.median(s['bytes']):,.0f}"] + [
            f"{value * 1e3:.2f} ms"
            for value in (
                statistics.median(s["info"]),
                statistics.median(s["teach"]),
                percentile(s["teach"], 99),
                statistics.median(s["run"]),
                percentile(s["run"], 99),
            )
        ]
        print(f"{mode:9}" + "".join(f"{cell:>11}" for cell in cells))


async def redis_read(files: int, rounds: int) -> tuple[float, float]:
    """What the worker of a PostgreSQL + Redis deployment still pays per change, before the
    template: the manifest read whole from Redis, then compared with the last one (seconds,
    medians)."""
    import redis.asyncio as aioredis

    from bifrost.cache.redis import GENERATION_FIELD, RedisModuleCache
    from bifrost.runtime.protocol import diff
    from tests.servers import REDIS_URL, drop_prefix

    prefix = f"bifrost-bench-{uuid.uuid4().hex[:6]}:"
    client = aioredis.Redis.from_url(REDIS_URL)
    manifest = {path: f"{i:064x}" for i, path in enumerate(workspace(files))}
    cache = RedisModuleCache(client, store=None, prefix=prefix)  # type: ignore[arg-type]
    await client.hset(cache.manifest_key, mapping={**manifest, GENERATION_FIELD: 1})
    reads, diffs = [], []
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            snapshot = await cache.snapshot(1)
            reads.append(time.perf_counter() - started)
            started = time.perf_counter()
            diff(manifest, snapshot.manifest)
            diffs.append(time.perf_counter() - started)
    finally:
        await client.aclose()
        drop_prefix(prefix)
    return statistics.median(reads), statistics.median(diffs)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, nargs="+", default=[100, 10_000])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument(
        "--no-redis", dest="redis", action="store_false", help="skip the Redis read figures"
    )
    args = parser.parse_args(argv)
    if min(args.files) < len(WORKSPACE) + 1 or args.rounds < 1:
        parser.error(f"--files must be at least {len(WORKSPACE) + 1} and --rounds at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    print(f"one-file change reaching the template, {args.rounds} rounds, interleaved")
    for files in args.files:
        report(files, asyncio.run(measure(files, args.rounds)))
    if args.redis:
        print("\nPostgreSQL + Redis worker, before the template: manifest read whole, compared")
        for files in args.files:
            read, compared = asyncio.run(redis_read(files, args.rounds))
            print(f"{files:>8,} files: HGETALL {read * 1e3:.2f} ms, diff {compared * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
