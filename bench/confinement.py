"""Per-run cost of confining executions, side by side with the unconfined path in one run.

1. Executor round trip (``Executor.run`` to the outcome) of a workflow importing three workspace
   modules: a confined and an unconfined executor alive at once, requests alternating between
   them: one at a time with spares (the usual path), bursts of ``BURST`` at once, each run after
   a code change (no prepared child fits), and without spares (a fork per run).
2. End to end through the HTTP API (``bifrost up``, embedded): BIFROST_SANDBOX=on vs off.
3. The set-up a child pays (spares pay it before the request arrives), step by step.

    .venv/bin/python -m bench.confinement [--runs 300] [--no-api]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import time
import uuid

from bench.e2e_latency import measure
from bench.runtime import WORKSPACE, percentile
from bifrost.runtime import confine
from bifrost.runtime.protocol import ExecutionRequest
from bifrost.worker.executor import Executor
from tests.runtime.conftest import MemorySource, private_root

BURST = 4  # runs at once: the executor's default concurrency


async def round_trips(runs: int, spare: bool, pattern: str = "spaced") -> None:
    """``spaced``: one run at a time; ``burst``: ``BURST`` runs at once (the usual concurrency);
    ``changed``: each run follows a code change (a new generation), so no prepared child fits."""
    source = MemorySource()
    source.put(WORKSPACE)
    executors = {
        "confined": Executor(source, root=private_root(), spare=spare),
        "unconfined": Executor(source, root=private_root(), spare=spare, confinement=None),
    }
    samples: dict[str, list[float]] = {name: [] for name in executors}
    for ex in executors.values():
        await ex.start()

    async def one(ex: Executor, generation: int) -> float:
        req = ExecutionRequest(uuid.uuid4().hex, "workflows.hello", "main", {}, generation, 30, 512)
        started = time.perf_counter()
        out = await ex.run(req)
        assert out.status == "success", out.error
        return (time.perf_counter() - started) * 1000

    try:
        for i in range(runs + 20):
            for name, ex in executors.items():
                if pattern == "changed":
                    source.put({"shared/a.py": f"def a():\n    return 1  # {i} {name}\n"})
                width = BURST if pattern == "burst" else 1
                times = await asyncio.gather(*(one(ex, source.generation) for _ in range(width)))
                if i >= 20:
                    samples[name].extend(times)
                await asyncio.sleep(0.05 if pattern == "burst" else 0.02)  # spaced, as HTTP is
    finally:
        for ex in executors.values():
            await ex.stop()
    p50 = {name: statistics.median(values) for name, values in samples.items()}
    label = f"spare={spare!s:5} {pattern:7}"
    for name, values in samples.items():
        print(
            f"executor round trip, {label} {name:10}: p50 {p50[name]:.2f} ms"
            f"  p90 {percentile(values, 0.9):.2f} ms  p99 {percentile(values, 0.99):.2f} ms"
        )
    print(f"  added by confinement at p50: {p50['confined'] - p50['unconfined']:+.2f} ms")


def child_setup(rounds: int = 200) -> None:
    """Time each step a confined child takes after fork (in a throwaway process)."""
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    try:
        policy = confine.Policy(keep=tuple(confine.python_paths()))
        confine.enter_view(policy)
        slots = confine.Slots(policy)
        steps: dict[str, list[float]] = {"cgroup join": [], "private /tmp": [], "uid switch": []}
        release = []
        for _ in range(rounds):
            slot = slots.take()
            read, write = os.pipe()
            child = os.fork()
            if child == 0:
                marks = [time.perf_counter()]
                slots.cgroups.join(slot)
                marks.append(time.perf_counter())
                confine.private_tmp(policy)
                marks.append(time.perf_counter())
                confine.become(slots.uid(slot), policy.pids_max)
                marks.append(time.perf_counter())
                spans = (b - a for a, b in itertools.pairwise(marks))
                os.write(write, " ".join(map(str, spans)).encode())
                os._exit(0)
            os.close(write)
            values = [float(v) * 1000 for v in os.read(read, 200).split()]
            os.close(read)
            os.waitpid(child, 0)
            for name, value in zip(steps, values, strict=True):
                steps[name].append(value)
            started = time.perf_counter()
            slots.release(slot)
            release.append((time.perf_counter() - started) * 1000)
        for name, values in [*steps.items(), ("slot release (template)", release)]:
            print(f"  {name:24} p50 {statistics.median(values):.3f} ms")
        slots.close()
    finally:
        os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--no-api", action="store_true", help="skip the end-to-end part")
    args = parser.parse_args()
    asyncio.run(round_trips(args.runs, spare=True))
    asyncio.run(round_trips(args.runs // 3, spare=True, pattern="burst"))
    asyncio.run(round_trips(args.runs // 3, spare=True, pattern="changed"))
    asyncio.run(round_trips(args.runs // 3, spare=False))
    if args.no_api:
        return
    print("end to end through the API (embedded), sequential runs:")
    p50 = {}
    for mode in ("on", "off", "on", "off"):
        r = measure("embedded", args.runs, 0.5, 1, env={"BIFROST_SANDBOX": mode})
        p50.setdefault(mode, []).append(r["p50"])
        print(f"  BIFROST_SANDBOX={mode:3}: p50 {r['p50']:.2f} ms  p99 {r['p99']:.2f} ms")
    added = statistics.median(p50["on"]) - statistics.median(p50["off"])
    print(f"  added by confinement at p50: {added:+.2f} ms (target: at most 1.5 ms)")
    print("set-up of one confined child (a spare does it before its request):")
    child_setup()


if __name__ == "__main__":
    main()
