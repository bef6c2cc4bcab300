"""Runtime benchmark (not part of the test run): ``python -m bench.runtime``.

1. Import cost: a cached virtual import vs an import from a ``.pyc`` on disk, and the finder's
   "not mine" answer.
2. Executor round trip for a trivial workflow importing three workspace modules, from
   ``Executor.run`` to the outcome, with requests spaced out (as HTTP traffic is) and back to back.
"""

from __future__ import annotations

import asyncio
import importlib
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bifrost.runtime.protocol import ExecutionRequest
from bifrost.worker.executor import Executor
from tests.runtime.conftest import MemorySource, VirtualWorkspace, private_root

TINY = "import os\n\nA = 1\n\n\ndef f(x):\n    return x + A\n\n\nclass C:\n    pass\n"
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
        "def main(name: str = 'x'):\n"
        "    return {'sum': a() + b() + c(), 'name': name}\n"
    ),
}


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[int(q * (len(ordered) - 1))]


def bench_imports() -> None:
    ws = VirtualWorkspace(private_root())
    ws.put({"bench_virtual.py": TINY})
    disk = Path(tempfile.mkdtemp())
    (disk / "bench_disk.py").write_text(TINY)
    sys.path.insert(len(sys.path) - 1, str(disk))  # scanned just before the root, which is last
    importlib.import_module("bench_disk")
    importlib.import_module("bench_virtual")

    def once(name: str) -> float:
        sys.modules.pop(name, None)
        started = time.perf_counter()
        importlib.import_module(name)
        return time.perf_counter() - started

    virtual = [once("bench_virtual") for _ in range(4000)]
    pyc = [once("bench_disk") for _ in range(4000)]
    finder = ws.importer.path_hook(ws.root)
    n = 200_000
    started = time.perf_counter()
    for _ in range(n):
        finder.find_spec("requests")
    not_mine = (time.perf_counter() - started) / n
    print(f"virtual import (code cache warm): {median_us(virtual):6.1f} µs median")
    print(f".pyc import from disk:            {median_us(pyc):6.1f} µs median")
    print(f"finder 'not mine':                {not_mine * 1e6:6.2f} µs")
    ws.importer.uninstall()


async def bench_executor(spare: bool) -> None:
    source = MemorySource()
    source.put(WORKSPACE)
    ex = Executor(source, root=private_root(), spare=spare)
    await ex.start()
    try:
        for gap, label in ((0.02, "spaced 20 ms"), (0.0, "back to back")):
            samples = []
            for i in range(300 if gap else 500):
                req = ExecutionRequest(uuid.uuid4().hex, "workflows.hello", "main", {}, 1, 30, 512)
                started = time.perf_counter()
                out = await ex.run(req)
                elapsed = time.perf_counter() - started
                assert out.status == "success", out.error
                if i >= 20:  # warm
                    samples.append(elapsed * 1000)
                if gap:
                    await asyncio.sleep(gap)
            p50, p90, p99 = (percentile(samples, q) for q in (0.5, 0.9, 0.99))
            print(
                f"executor round trip, spare={spare!s:5} {label:13}: "
                f"p50 {p50:.2f} ms  p90 {p90:.2f} ms  p99 {p99:.2f} ms"
            )
    finally:
        await ex.stop()


def main() -> None:
    bench_imports()
    asyncio.run(bench_executor(spare=True))
    asyncio.run(bench_executor(spare=False))


if __name__ == "__main__":
    main()
