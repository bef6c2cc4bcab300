"""Orphaning in the store's units of work, on both back ends: what orphans, what keeps the id,
what code is kept, and recreate / deactivate / activate."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bifrost.errors import Conflict
from bifrost.store import kept, workflows
from bifrost.store.files import Delete, Write
from bifrost.store.models import KeptManifest, KeptSource, Workflow
from bifrost.worker.request import prepare
from tests.orphans.sources import (
    ANSWER,
    ANSWER_EDITED,
    BROKEN,
    HELPER_V1,
    HELPER_V2,
    NO_FUNCTION,
    OTHER_SIGNATURE,
)

WF = "workflows/answer.py"


async def _setup(store) -> Workflow:
    await store.files.write("shared/helper.py", HELPER_V1)
    written = await store.files.write(WF, ANSWER)
    (workflow,) = written.workflows
    assert workflow.source_hash == written.file.content_hash
    assert workflow.source_generation == written.generation
    return workflow


async def _rows(store) -> list[Workflow]:
    async with store.db.read() as session:
        return list(await session.scalars(select(Workflow).order_by(Workflow.path)))


async def _run_request(store, workflow_id: str):
    return await prepare(store.db, workflow_id, {}, timeout_s=5, max_timeout_s=60, memory_mb=64)


async def test_a_delete_orphans_and_keeps_the_code_before_it(store) -> None:
    workflow = await _setup(store)
    before = (await store.cache.snapshot()).generation
    applied = await store.files.apply([Delete(WF)])
    assert [w.id for w in applied.orphaned] == [workflow.id]
    (row,) = await _rows(store)
    assert row.id == workflow.id and row.is_orphaned and row.is_active
    assert row.orphaned_generation == before and row.source_hash == workflow.source_hash
    manifest = await kept.manifest(store.db, before)
    assert manifest == {"shared/helper.py": manifest["shared/helper.py"], WF: row.source_hash}
    # The helper changes later: the kept source of its old version stays.
    await store.files.write("shared/helper.py", HELPER_V2)
    assert await store.cache.blob(manifest["shared/helper.py"]) == HELPER_V1
    assert await store.cache.blob(row.source_hash) == ANSWER
    _, request = await _run_request(store, workflow.id)
    assert (request.kept_generation, request.kept_path, request.kept_hash) == (
        before,
        WF,
        row.source_hash,
    )


async def test_a_removed_function_orphans_and_a_return_unorphans(store) -> None:
    workflow = await _setup(store)
    await store.files.write(WF, ANSWER_EDITED)
    edited = (await _rows(store))[0]
    assert edited.source_hash != workflow.source_hash  # every good write moves it
    applied = await store.files.apply([Write(WF, NO_FUNCTION)])
    assert [w.id for w in applied.orphaned] == [workflow.id]
    (row,) = await _rows(store)
    assert row.is_orphaned and row.is_active and row.source_hash == edited.source_hash
    back = await store.files.write(WF, ANSWER)
    assert [w.id for w in back.workflows] == [workflow.id]
    (row,) = await _rows(store)
    assert not row.is_orphaned and row.orphaned_generation is None
    _, request = await _run_request(store, workflow.id)
    assert request.kept_generation is None


async def test_a_syntax_error_keeps_the_rows_and_the_last_good_source(store) -> None:
    workflow = await _setup(store)
    broken = await store.files.write(WF, BROKEN)
    assert [w.id for w in broken.workflows] == [workflow.id]
    (row,) = await _rows(store)
    assert not row.is_orphaned and row.source_hash == workflow.source_hash
    await store.files.delete(WF)
    (row,) = await _rows(store)
    assert row.is_orphaned and row.source_hash == workflow.source_hash
    assert await store.cache.blob(row.source_hash) == ANSWER  # kept before it was overwritten


async def test_renames_keep_the_workflow(store) -> None:
    workflow = await _setup(store)
    moved = await store.files.rename(WF, "workflows/moved.py")
    assert [w.id for w in moved.workflows] == [workflow.id]
    # A pull's move: one unit deletes the old path and writes the new one.
    applied = await store.files.apply(
        [Write("workflows/again.py", ANSWER), Delete(moved.file.path)]
    )
    assert applied.orphaned == []
    assert [(m.old, m.new, [w.id for w in m.workflows]) for m in applied.moved] == [
        ("workflows/moved.py", "workflows/again.py", [workflow.id])
    ]
    assert [w.id for w in applied.results[0].workflows] == [workflow.id]
    (row,) = await _rows(store)
    assert (row.id, row.path, row.is_orphaned) == (workflow.id, "workflows/again.py", False)
    async with store.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(KeptManifest)) == 0


async def test_a_move_with_another_signature_orphans(store) -> None:
    workflow = await _setup(store)
    applied = await store.files.apply([Delete(WF), Write("workflows/other.py", OTHER_SIGNATURE)])
    assert [w.id for w in applied.orphaned] == [workflow.id] and applied.moved == []
    rows = {row.path: row for row in await _rows(store)}
    assert rows[WF].id == workflow.id and rows[WF].is_orphaned
    assert rows["workflows/other.py"].id != workflow.id


async def test_recreate_writes_the_kept_source_back(store) -> None:
    workflow = await _setup(store)
    await store.files.delete(WF)
    await store.files.write("shared/helper.py", HELPER_V2)
    again = await workflows.recreate(store.files, workflow.id)
    assert again.id == workflow.id and not again.is_orphaned
    assert (await store.files.read(WF))[1] == ANSWER
    with pytest.raises(Conflict, match="not orphaned"):
        await workflows.recreate(store.files, workflow.id)
    await store.files.write(WF, NO_FUNCTION)
    with pytest.raises(Conflict, match=f"{WF} exists again"):
        await workflows.recreate(store.files, workflow.id)


async def test_only_a_deactivate_stops_a_workflow(store) -> None:
    workflow = await _setup(store)
    await store.files.delete(WF)
    off = await workflows.set_active(store.db, workflow.id, False)
    assert not off.is_active and off.is_orphaned
    with pytest.raises(Conflict, match="deactivated; activate it first"):
        await _run_request(store, workflow.id)
    await store.files.write(WF, ANSWER)  # the function coming back does not reactivate it
    assert not (await workflows.get(store.db, workflow.id)).is_active
    on = await workflows.set_active(store.db, workflow.id, True)
    assert on.is_active
    await _run_request(store, workflow.id)


async def test_listings_show_orphans(store) -> None:
    workflow = await _setup(store)
    await store.files.write("workflows/live.py", ANSWER.replace(b"answer", b"live"))
    await store.files.delete(WF)
    listed = await workflows.listed(store.db)
    assert sorted(w.function_name for w in listed.items) == ["answer", "live"]
    orphaned = await workflows.listed(store.db, orphaned_only=True)
    assert [w.id for w in orphaned.items] == [workflow.id]
    async with store.db.read() as session:
        kept_hashes = set(await session.scalars(select(KeptSource.content_hash)))
    assert workflow.source_hash in kept_hashes


async def test_a_unit_orphans_only_what_was_confirmed(store) -> None:
    workflow = await _setup(store)
    with pytest.raises(Conflict, match="was not confirmed"):
        await store.files.apply([Delete(WF)], allow_orphans=set())
    assert (await store.files.read(WF))[1] == ANSWER  # nothing changed
    assert not (await workflows.get(store.db, workflow.id)).is_orphaned
    applied = await store.files.apply([Delete(WF)], allow_orphans={workflow.id})
    assert [w.id for w in applied.orphaned] == [workflow.id]


async def test_two_rows_of_one_function_are_both_updated(store) -> None:
    """A replaced orphan points at another function's (path, function name): every write
    updates both rows, and neither is orphaned twice."""
    workflow = await _setup(store)
    async with store.db.write() as session:
        session.add(
            Workflow(
                path=WF,
                function_name="answer",
                name="replaced",
                kind="workflow",
                parameters=workflow.parameters,
                options={},
            )
        )
    edited = await store.files.write(WF, ANSWER_EDITED)
    assert len(edited.workflows) == 2
    assert {w.source_hash for w in edited.workflows} == {edited.file.content_hash}
    applied = await store.files.apply([Delete(WF)])
    assert len(applied.orphaned) == 2
    listed = await workflows.listed(store.db, limit=1)
    assert listed.next_cursor is not None  # the id breaks the tie between the two
    second = await workflows.listed(store.db, limit=1, cursor=listed.next_cursor)
    assert {listed.items[0].id, second.items[0].id} == {w.id for w in applied.orphaned}
