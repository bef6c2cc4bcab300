"""What the entity index costs a unit of work: 4,000 Python files (every tenth a workflow)
updated in one unit, alone and with 400 new form files that name those workflows (so every
reference is resolved), and the used_by query for 100 workflows and for one.

Measured side by side in one run (the machines are shared and noisy):

    .venv/bin/python -m bench.entities [--files 4000] [--forms 400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from sqlalchemy import select

from bench.common import Backend
from bench.files_unit import source
from bifrost.context import open_context
from bifrost.store import references
from bifrost.store.files import Write
from bifrost.store.models import Workflow


def form(i: int) -> bytes:
    definition = {
        "name": f"form{i}",
        "title": f"Form {i}",
        "workflow": f"pkg{(10 * i) // 100}/mod{10 * i}.py::flow_{10 * i}",
        "fields": [{"name": "x", "type": "integer", "required": True}],
    }
    return json.dumps(definition, sort_keys=True, indent=2).encode() + b"\n"


async def measure(kind: str, files: int, forms: int) -> dict[str, float]:
    backend = Backend(kind)
    try:
        async with open_context(backend.settings()) as svc:
            await svc.files.apply(
                [Write(f"pkg{i // 100}/mod{i}.py", source(i, 1)) for i in range(files)]
            )
            python = [Write(f"pkg{i // 100}/mod{i}.py", source(i, 2)) for i in range(files)]
            started = time.perf_counter()
            await svc.files.apply(python)  # an update of every file: the ORM path
            python_s = time.perf_counter() - started
            python = [Write(f"pkg{i // 100}/mod{i}.py", source(i, 3)) for i in range(files)]
            entities = [Write(f"forms/form{i}.form.json", form(i)) for i in range(forms)]
            started = time.perf_counter()
            await svc.files.apply(python + entities)  # every ref re-resolved, every form new
            both_s = time.perf_counter() - started
            async with svc.db.read() as session:
                workflows = list(await session.scalars(select(Workflow).limit(100)))
                started = time.perf_counter()
                await references.used_by(session, workflows)
                used_by_s = time.perf_counter() - started
                started = time.perf_counter()
                await references.used_by(session, workflows[:1])
                one_s = time.perf_counter() - started
    finally:
        backend.close()
    return {
        "python_s": python_s,
        "both_s": both_s,
        "used_by_ms": 1000 * used_by_s,
        "one_ms": 1000 * one_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=4000)
    parser.add_argument("--forms", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.files} .py files updated in one unit, alone and with {args.forms} new forms")
    print(f"{'back end':<10} {'.py alone':>10} {'.py+forms':>10} {'used_by(100)':>13} {'(1)':>8}")
    for _ in range(args.rounds):
        for kind in ("embedded", "postgres"):
            r = asyncio.run(measure(kind, args.files, args.forms))
            print(
                f"{kind:<10} {r['python_s']:>9.2f}s {r['both_s']:>9.2f}s "
                f"{r['used_by_ms']:>11.1f}ms {r['one_ms']:>6.1f}ms"
            )


if __name__ == "__main__":
    main()
