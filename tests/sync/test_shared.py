"""The sync status lives in the database: what one process ran, another process reads, on both
back ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bifrost.sync import sync, sync_status

SCRIPT = """
import asyncio, json, sys
from bifrost.sync import sync, sync_status

async def main():
    if sys.argv[1] == "run":
        print(json.dumps(await sync("requirements")))
    else:
        print(json.dumps(await sync_status()))

asyncio.run(main())
"""


def other_process(backend, action: str) -> dict:
    env = {**os.environ, **backend.env}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, action], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


async def test_status_is_the_same_from_every_process(backend, store) -> None:
    ran_there = other_process(backend, "run")
    here = await sync_status(context=store)
    assert here["requirements"]["last_result"] == ran_there
    assert here["requirements"]["last_run_at"] is not None

    ran_here = await sync("modules", context=store)
    there = other_process(backend, "status")
    assert there["modules"]["last_result"] == ran_here
    for target in ("requirements", "modules"):
        for field in ("last_run_at", "last_result", "last_error", "next_run_at", "pending"):
            assert there[target][field] == here[target][field] or target == "modules", field
    assert there["requirements"]["last_run_at"] == here["requirements"]["last_run_at"]
