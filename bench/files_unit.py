"""A GitHub pull's shape: 4,000 small files written as one unit of work, against one-file writes.

One unit is one transaction, one generation bump and one cache change, with the rows and workflows
of all its paths read in bulk: its cost per file must be a small fraction of a one-file write's.

    .venv/bin/python -m bench.files_unit [--files 4000] [--singles 300]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.common import Backend
from bifrost.context import open_context
from bifrost.store.files import Write


def source(i: int, version: int) -> bytes:
    if i % 10 == 0:  # every tenth file holds a workflow, so workflow rows are written too
        return (
            f"from bifrost import workflow\n\n@workflow\ndef flow_{i}(x: int = {version}) -> int:\n"
            f"    return x + {i}\n"
        ).encode()
    return f"VALUE = {i + version}\n\ndef f():\n    return VALUE\n".encode()


async def measure(kind: str, files: int, singles: int) -> dict[str, float]:
    backend = Backend(kind)
    try:
        async with open_context(backend.settings()) as svc:
            edits = [Write(f"pkg{i // 100}/mod{i}.py", source(i, 1)) for i in range(files)]
            started = time.perf_counter()
            created = await svc.files.apply(edits)
            create_s = time.perf_counter() - started
            edits = [Write(f"pkg{i // 100}/mod{i}.py", source(i, 2)) for i in range(files)]
            started = time.perf_counter()
            updated = await svc.files.apply(edits)
            update_s = time.perf_counter() - started
            assert updated.generation == created.generation + 1
            started = time.perf_counter()
            for i in range(singles):
                await svc.files.write(f"single/mod{i}.py", source(i, 1))
            single_s = time.perf_counter() - started
    finally:
        backend.close()
    return {
        "create_s": create_s,
        "update_s": update_s,
        "unit_ms_per_file": 1000 * update_s / files,
        "single_ms_per_file": 1000 * single_s / singles,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=4000)
    parser.add_argument("--singles", type=int, default=300)
    args = parser.parse_args()
    print(f"{args.files} files in one unit vs {args.singles} one-file writes")
    print(f"{'back end':<10} {'create':>8} {'update':>8} {'unit/file':>10} {'single/file':>12}")
    for kind in ("embedded", "postgres"):
        r = asyncio.run(measure(kind, args.files, args.singles))
        print(
            f"{kind:<10} {r['create_s']:>7.2f}s {r['update_s']:>7.2f}s "
            f"{r['unit_ms_per_file']:>8.2f}ms {r['single_ms_per_file']:>10.2f}ms"
        )


if __name__ == "__main__":
    main()
