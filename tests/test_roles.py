"""The context opens resources and nothing else; roles harden the process and need a back end."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import Backend
from tests.serving import BIFROST

DUMPABLE = """
import asyncio, ctypes, sys
from bifrost.context import open_context
from bifrost.roles.api import ApiRole
from bifrost.roles.shared import open_transport
from bifrost.settings import Settings

PR_GET_DUMPABLE = 3
dumpable = lambda: ctypes.CDLL(None).prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)

async def main():
    async with open_context(Settings()) as ctx:
        written = await ctx.files.write("notes/a.txt", b"hello")
        print(written.generation, dumpable())
        transport = open_transport(ctx)
        role = ApiRole(ctx, transport)
        await role.start()
        print(dumpable())
        await role.stop()
        await transport.close()

asyncio.run(main())
"""


def test_a_script_opens_the_context_and_only_a_role_hardens_the_process(
    backend: Backend,
) -> None:
    env = {**os.environ, **backend.env}
    done = subprocess.run(
        [sys.executable, "-c", DUMPABLE], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    (generation, before), (after,) = (line.split() for line in done.stdout.splitlines())
    assert int(generation) >= 1 and before == "1"  # the context: usable, no side effect
    assert after == "0"  # the API role holds credentials: non-dumpable


def test_headless_roles_refuse_embedded_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIFROST_")}
    env["BIFROST_DATA_DIR"] = str(tmp_path)
    for role in ("worker", "scheduler"):
        done = subprocess.run([BIFROST, role], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "needs BIFROST_REDIS_URL" in done.stderr, done.stderr
        assert f"runs the {role} inside the API process" in " ".join(done.stderr.split())
