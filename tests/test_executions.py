"""Execution records: pinned generations, and runs whose worker is gone are closed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bifrost.errors import Conflict, InvalidInput, NotFound
from bifrost.store import executions, workflows
from bifrost.store.models import Execution
from bifrost.worker.request import prepare
from tests.test_files import HELLO


async def test_an_execution_is_pinned_to_the_current_generation(store) -> None:
    await store.files.write("shared/greeting.py", b"def greet(n):\n    return n\n")
    written = await store.files.write("workflows/hello.py", HELLO)
    record, request = await prepare(
        store.db,
        written.workflows[0].id,
        {"name": "Ada"},
        timeout_s=5,
        max_timeout_s=3600,
        memory_mb=256,
    )
    assert record.generation == request.generation == written.generation
    assert (request.module, request.function) == ("workflows.hello", "hello")
    assert (request.timeout_s, request.memory_mb) == (5.0, 256)


async def test_runs_of_a_dead_worker_are_closed(store) -> None:
    written = await store.files.write("workflows/hello.py", HELLO)
    wid = written.workflows[0].id
    ids = []
    for _ in range(3):
        record, _ = await prepare(store.db, wid, {}, timeout_s=5, max_timeout_s=3600, memory_mb=256)
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


async def _count(store) -> int:
    async with store.db.read() as session:
        return await session.scalar(select(func.count()).select_from(Execution))


async def test_unknown_ids_are_not_found(store) -> None:
    with pytest.raises(NotFound):
        await executions.get(store.db, "nope")
    with pytest.raises(NotFound):
        await prepare(store.db, "nope", {}, timeout_s=1, max_timeout_s=3600, memory_mb=1)
    assert await _count(store) == 0


async def test_a_bad_timeout_option_is_refused_before_anything_is_recorded(store) -> None:
    source = b'from bifrost import workflow\n\n@workflow(timeout="5m")\ndef slow():\n    return 1\n'
    wid = (await store.files.write("workflows/slow.py", source)).workflows[0].id
    with pytest.raises(InvalidInput) as refused:
        await prepare(store.db, wid, {}, timeout_s=5, max_timeout_s=3600, memory_mb=256)
    assert "positive number of seconds" in refused.value.message
    assert await _count(store) == 0


async def test_a_workflow_gone_from_its_file_runs_kept_code_and_a_deactivated_one_not(
    store,
) -> None:
    written = await store.files.write("workflows/hello.py", HELLO)
    wid = written.workflows[0].id
    await store.files.write("workflows/hello.py", b"x = 1\n")
    _, request = await prepare(store.db, wid, {}, timeout_s=5, max_timeout_s=3600, memory_mb=256)
    assert request.kept_generation == written.generation
    assert request.kept_hash == written.file.content_hash
    await workflows.set_active(store.db, wid, False)
    with pytest.raises(Conflict, match="deactivated"):
        await prepare(store.db, wid, {}, timeout_s=5, max_timeout_s=3600, memory_mb=256)
    assert await _count(store) == 1


async def test_one_workflows_runs_newest_first_page_by_page(store) -> None:
    hello = (await store.files.write("workflows/hello.py", HELLO)).workflows[0].id
    other = (await store.files.write("workflows/other.py", HELLO)).workflows[0].id
    made = {hello: [], other: []}
    for wid in (hello, other, hello, hello, other):
        record, _ = await prepare(store.db, wid, {}, timeout_s=5, max_timeout_s=3600, memory_mb=1)
        made[wid].append(record.id)
    first = await executions.recent(store.db, workflow_id=hello, limit=2)
    rest = await executions.recent(store.db, workflow_id=hello, cursor=first.next_cursor)
    assert [e.id for e in first.items + rest.items] == made[hello][::-1]
    assert rest.next_cursor is None
    assert await executions.recent(store.db, workflow_id="nope") == executions.Page([], None)
    assert len((await executions.recent(store.db)).items) == 5
