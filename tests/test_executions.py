"""Execution records: pinned generations, and runs whose worker is gone are closed."""

from __future__ import annotations

from bifrost.store import executions
from bifrost.store.models import Execution
from tests.test_files import HELLO


async def test_an_execution_is_pinned_to_the_current_generation(store) -> None:  # type: ignore[no-untyped-def]
    await store.files.write("shared/greeting.py", b"def greet(n):\n    return n\n")
    written = await store.files.write("workflows/hello.py", HELLO)
    record, request = await executions.create(
        store.db,
        written.workflows[0].id,
        {"name": "Ada"},
        timeout_s=5,
        max_timeout_s=3600,
        memory_mb=256,
    )
    assert record.generation == request.generation == written.generation
    assert (request.module, request.function) == ("workflows.hello", "hello")


async def test_runs_of_a_dead_worker_are_closed(store) -> None:  # type: ignore[no-untyped-def]
    written = await store.files.write("workflows/hello.py", HELLO)
    wid = written.workflows[0].id
    ids = []
    for _ in range(3):
        record, _ = await executions.create(
            store.db, wid, {}, timeout_s=5, max_timeout_s=3600, memory_mb=256
        )
        ids.append(record.id)
    await executions.mark_running(store.db, ids[0], "alive:1")
    await executions.mark_running(store.db, ids[1], "dead:2")

    assert await executions.fail_abandoned(store.db, {"alive:1"}) == 1
    states = {i: await executions.get(store.db, i) for i in ids}
    assert states[ids[0]].status == "running"
    assert states[ids[1]].status == "failed"
    assert states[ids[1]].error["type"] == "WorkerLost"
    assert states[ids[2]].status == "pending"  # still queued: a live worker may take it

    # Embedded mode starting up: nothing from the previous process can finish any more.
    assert await executions.fail_abandoned(store.db, None) == 2
    assert [(await executions.get(store.db, i)).status for i in ids] == ["failed"] * 3


async def test_unknown_ids_are_404(store) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from bifrost.errors import UserError

    with pytest.raises(UserError) as missing:
        await executions.get(store.db, "nope")
    assert missing.value.status == 404
    with pytest.raises(UserError) as no_workflow:
        await executions.create(store.db, "nope", {}, timeout_s=1, max_timeout_s=3600, memory_mb=1)
    assert no_workflow.value.status == 404
    assert Execution.__tablename__ == "executions"


async def test_a_bad_timeout_option_is_a_clear_422(store) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from bifrost.errors import UserError

    source = b'from bifrost import workflow\n\n@workflow(timeout="5m")\ndef slow():\n    return 1\n'
    wid = (await store.files.write("workflows/slow.py", source)).workflows[0].id
    with pytest.raises(UserError) as refused:
        await executions.create(store.db, wid, {}, timeout_s=5, max_timeout_s=3600, memory_mb=256)
    assert refused.value.status == 422 and "positive number of seconds" in refused.value.message
