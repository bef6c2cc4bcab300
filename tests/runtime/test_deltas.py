"""A generation change teaches the template only what changed; a gap falls back to the whole
manifest, and a change the template cannot apply is refused, never guessed at."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest_asyncio

from bifrost.runtime.protocol import ExecutionOutcome, ExecutionRequest, Snapshot, apply, diff
from bifrost.worker.executor import Executor
from tests.runtime.conftest import MemorySource, private_root

WORKFLOW = "from bifrost import workflow\n\n@workflow\ndef main():\n    return {!r}\n"
FILES = {
    "shared/__init__.py": "",
    "shared/version.py": "VERSION = 1\n",
    "workflows/__init__.py": "",
    "workflows/versioned.py": (
        "from bifrost import workflow\nfrom shared.version import VERSION\n\n"
        "@workflow\ndef version():\n    return VERSION\n"
    ),
    "workflows/extra.py": WORKFLOW.format("extra"),
    **{f"filler/m{i}.py": f"X = {i}\n" for i in range(50)},
}


@pytest_asyncio.fixture
async def setup() -> AsyncIterator[tuple[Executor, MemorySource]]:
    source = MemorySource()
    source.put(FILES)
    ex = Executor(source, root=private_root(), concurrency=2)
    await ex.start()
    try:
        yield ex, source
    finally:
        await ex.stop()


async def run(ex: Executor, src: MemorySource, module: str, function: str) -> ExecutionOutcome:
    request = ExecutionRequest(uuid.uuid4().hex, module, function, {}, src.generation, 20)
    return await ex.run(request)


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def test_diff_and_apply_are_inverse() -> None:
    old = {"a.py": "1" * 64, "b.py": "2" * 64, "c.py": "3" * 64}
    new = {"a.py": "1" * 64, "b.py": "9" * 64, "d.py": "4" * 64}
    changes = diff(old, new)
    assert changes == {"b.py": "9" * 64, "d.py": "4" * 64, "c.py": None}
    assert apply(old, changes) == new
    assert old["b.py"] == "2" * 64  # apply() never mutates what it was given


async def test_a_one_file_change_is_taught_as_a_delta(
    setup: tuple[Executor, MemorySource],
) -> None:
    ex, src = setup
    assert (await run(ex, src, "workflows.versioned", "version")).result == 1
    whole = ex.updates["manifest_bytes"]
    assert ex.updates["manifest"] >= 1 and ex.updates["delta"] == 0

    src.put({"shared/version.py": "VERSION = 2\n"})
    changed = await run(ex, src, "workflows.versioned", "version")
    assert (changed.status, changed.result) == ("success", 2)
    assert ex.updates["delta"] == 1
    assert ex.updates["delta_bytes"] * 10 < whole  # one path, not fifty-odd

    src.remove("workflows/extra.py")
    gone = await run(ex, src, "workflows.extra", "main")
    assert gone.status == "failed" and gone.error["type"] == "ModuleNotFoundError"

    src.put({"workflows/extra.py": WORKFLOW.format("back")})
    back = await run(ex, src, "workflows.extra", "main")
    assert (back.status, back.result) == ("success", "back")
    assert ex.updates["delta"] == 3
    assert (await ex.template_info())["generation"] == src.generation


async def test_a_gap_forces_the_whole_manifest(setup: tuple[Executor, MemorySource]) -> None:
    ex, src = setup
    assert (await run(ex, src, "workflows.versioned", "version")).result == 1
    manifests = ex.updates["manifest"]
    src.put({"shared/version.py": "VERSION = 2\n"})
    src.put({"shared/version.py": "VERSION = 3\n"})  # the template never saw the one between
    out = await run(ex, src, "workflows.versioned", "version")
    assert (out.status, out.result) == ("success", 3)
    assert ex.updates["manifest"] == manifests + 1 and ex.updates["delta"] == 0


async def test_a_new_template_is_taught_the_whole_manifest(
    setup: tuple[Executor, MemorySource],
) -> None:
    ex, src = setup
    assert (await run(ex, src, "workflows.versioned", "version")).result == 1
    pid = ex.template_pid
    assert pid is not None
    manifests = ex.updates["manifest"]
    os.kill(pid, signal.SIGKILL)
    await wait_for(lambda: ex.template_pid not in (None, pid))
    assert ex.updates["manifest"] == manifests + 1  # the new one holds nothing: taught whole
    src.put({"shared/version.py": "VERSION = 2\n"})
    out = await run(ex, src, "workflows.versioned", "version")
    assert (out.status, out.result) == ("success", 2)
    assert ex.updates["manifest"] == manifests + 1 and ex.updates["delta"] == 1


async def test_a_delta_the_template_cannot_apply_is_refused_then_taught_whole(
    setup: tuple[Executor, MemorySource],
) -> None:
    """Should the executor's mirror of the template's manifests ever be wrong, the template
    refuses the change (no stale or mixed code runs) and the run is taught the whole manifest."""
    ex, src = setup
    assert (await run(ex, src, "workflows.versioned", "version")).result == 1
    src.put({"shared/version.py": "VERSION = 2\n"})
    honest = src.snapshot
    worker: Any = ex._worker
    bogus_base = 10_000  # the executor believes the template holds it; it does not
    worker.known[bogus_base] = None

    async def unknown_base(min_generation: int) -> Snapshot:
        return dataclasses.replace(await honest(min_generation), base=bogus_base)

    src.snapshot = unknown_base  # type: ignore[method-assign]
    manifests = ex.updates["manifest"]
    out = await run(ex, src, "workflows.versioned", "version")
    assert (out.status, out.result) == ("success", 2)
    assert (ex.updates["delta"], ex.updates["manifest"]) == (1, manifests + 1)
    assert bogus_base not in worker.known and src.generation in worker.known


async def test_a_delta_of_the_wrong_size_is_refused(
    setup: tuple[Executor, MemorySource],
) -> None:
    ex, src = setup
    assert (await run(ex, src, "workflows.versioned", "version")).result == 1
    src.put({"workflows/new.py": WORKFLOW.format("new")})
    honest = src.snapshot

    async def short(min_generation: int) -> Snapshot:  # the change lost its one added path
        return dataclasses.replace(await honest(min_generation), changes={})

    src.snapshot = short  # type: ignore[method-assign]
    manifests = ex.updates["manifest"]
    out = await run(ex, src, "workflows.new", "main")
    assert (out.status, out.result) == ("success", "new")
    assert (ex.updates["delta"], ex.updates["manifest"]) == (1, manifests + 1)


async def test_a_refused_delta_is_never_run_on_other_code(
    setup: tuple[Executor, MemorySource],
) -> None:
    """The refusal itself, without the executor's second try: the run fails, naming why."""
    ex, src = setup
    assert (await run(ex, src, "workflows.versioned", "version")).result == 1
    worker: Any = ex._worker
    worker.known[10_000] = None
    src.put({"shared/version.py": "VERSION = 2\n"})
    snap = dataclasses.replace(await src.snapshot(src.generation), base=10_000)
    request = ExecutionRequest(uuid.uuid4().hex, "workflows.versioned", "version", {}, 0, 20)
    outcome = await worker.submit(request, snap)
    assert outcome["status"] == "failed" and outcome["missing_manifest"] is True
    assert "does not hold the manifest" in outcome["error"]["message"]
    assert 10_000 not in worker.known and snap.generation not in worker.known


async def test_folders_a_change_adds_or_empties_are_seen(
    setup: tuple[Executor, MemorySource],
) -> None:
    ex, src = setup
    assert (await run(ex, src, "workflows.versioned", "version")).result == 1
    src.put({"workflows/deep/inner.py": WORKFLOW.format("deep")})  # a new namespace folder
    added = await run(ex, src, "workflows.deep.inner", "main")
    assert (added.status, added.result) == ("success", "deep")
    src.remove("workflows/deep/inner.py")  # the folder is empty again
    gone = await run(ex, src, "workflows.deep.inner", "main")
    assert gone.status == "failed" and gone.error["type"] == "ModuleNotFoundError"
    assert ex.updates["delta"] == 2 and ex.updates["manifest"] == 1
