"""The entity index the unit of work keeps: rows, refs, flags and used_by, on both back ends."""

from __future__ import annotations

import json

from sqlalchemy import select

from bifrost.store import references
from bifrost.store.files import Delete, Rename
from bifrost.store.models import Entity, Workflow

FLOWS = b"""from bifrost import workflow, data_provider


@workflow
def onboard(name: str, team: str = "ops"):
    return name


@data_provider
def teams():
    return ["ops", "dev"]
"""
USER = b"""from bifrost import workflow
from flows import onboard as _onboard
from . import sibling


@workflow
def wrapper(name: str):
    return _onboard.onboard(name)
"""


def form(workflow: str = "flows/onboard.py::onboard", **extra) -> bytes:
    data = {
        "name": "onboard",
        "title": "Onboard someone",
        "workflow": workflow,
        "fields": [
            {"name": "name", "type": "text", "required": True},
            {
                "name": "team",
                "type": "select",
                "options": {"data_provider": "flows/onboard.py::teams"},
            },
        ],
        **extra,
    }
    return json.dumps(data).encode()


async def entity(store, path: str) -> Entity | None:
    async with store.db.read() as session:
        return await session.scalar(select(Entity).where(Entity.path == path))


async def workflow(store, path: str, function: str) -> Workflow:
    async with store.db.read() as session:
        return await session.scalar(
            select(Workflow).where(Workflow.path == path, Workflow.function_name == function)
        )


async def test_a_form_file_is_indexed_and_its_refs_follow_the_workflows(store) -> None:
    await store.files.write("anywhere/deep/a.form.json", form())
    row = await entity(store, "anywhere/deep/a.form.json")
    assert (row.kind, row.name, row.invalid) == ("form", "onboard", None)
    assert row.definition["fields"][0] == {"name": "name", "type": "text", "required": True}
    assert row.broken_refs == ["flows/onboard.py::onboard", "flows/onboard.py::teams"]
    first_id = row.id

    await store.files.write("flows/onboard.py", FLOWS)  # the workflows appear: refs resolve
    row = await entity(store, "anywhere/deep/a.form.json")
    assert row.broken_refs == [] and row.id == first_id

    # The data provider leaves its file: it is orphaned, keeps its code, and still resolves.
    await store.files.write("flows/onboard.py", FLOWS.split(b"\n\n\n@data_provider")[0])
    row = await entity(store, "anywhere/deep/a.form.json")
    assert row.broken_refs == []
    assert (await workflow(store, "flows/onboard.py", "teams")).is_orphaned

    await store.files.apply([Rename("anywhere/deep/a.form.json", "forms/b.form.json")])
    assert await entity(store, "anywhere/deep/a.form.json") is None
    moved = await entity(store, "forms/b.form.json")
    assert moved.id == first_id and moved.broken_refs == []

    await store.files.apply([Delete("forms/b.form.json")])
    assert (await entity(store, "forms/b.form.json")).is_deleted
    await store.files.write("forms/b.form.json", form())  # restored: the same id
    assert (await entity(store, "forms/b.form.json")).id == first_id


async def test_an_invalid_file_is_stored_and_flagged(store) -> None:
    await store.files.write("x.agent.json", b'{"name": "bot", "tools": "nope"}')
    row = await entity(store, "x.agent.json")
    assert row.definition is None and row.name == "bot"
    assert "system_prompt: Field required" in row.invalid and "tools: " in row.invalid
    await store.files.write("y.app.json", b"{not json")
    assert (await entity(store, "y.app.json")).invalid.startswith("not JSON")
    await store.files.apply([Rename("y.app.json", "y.json")])  # no longer an entity file
    assert (await entity(store, "y.app.json")) is None
    assert (await entity(store, "y.json")).is_deleted


async def test_used_by_lists_entities_and_importing_workflows(store) -> None:
    await store.files.write("flows/__init__.py", b"")
    await store.files.write("flows/onboard.py", FLOWS)
    await store.files.write("flows/user.py", USER)
    await store.files.write("other/relative.py", b"from ..flows import onboard\n")  # beyond top
    await store.files.write("forms/a.form.json", form())
    await store.files.write(
        "agents/bot.agent.json",
        json.dumps(
            {"name": "bot", "system_prompt": "hi", "tools": ["flows/onboard.py::onboard"]}
        ).encode(),
    )
    await store.files.write(
        "apps/portal.app.json",
        json.dumps(
            {
                "name": "portal",
                "pages": [{"title": "Home", "workflows": ["flows/user.py::wrapper"]}],
            }
        ).encode(),
    )
    onboard = await workflow(store, "flows/onboard.py", "onboard")
    teams = await workflow(store, "flows/onboard.py", "teams")
    wrapper = await workflow(store, "flows/user.py", "wrapper")
    async with store.db.read() as session:
        found = await references.used_by(session, [onboard, teams, wrapper])
    shown = {k: [(r.kind, r.path, r.name) for r in v] for k, v in found.items()}
    assert shown[onboard.id] == [
        ("agent", "agents/bot.agent.json", "bot"),
        ("form", "forms/a.form.json", "onboard"),
        ("workflow", "flows/user.py", "wrapper"),
    ]
    assert shown[teams.id] == [
        ("form", "forms/a.form.json", "onboard"),
        ("workflow", "flows/user.py", "wrapper"),
    ]
    assert shown[wrapper.id] == [("app", "apps/portal.app.json", "portal")]

    await store.files.write("flows/user.py", b"import os\n")  # no longer imports flows.onboard
    await store.files.delete("agents/bot.agent.json")
    async with store.db.read() as session:
        found = await references.used_by(session, [onboard])
    assert [(r.kind, r.path) for r in found[onboard.id]] == [("form", "forms/a.form.json")]


async def test_reindex_indexes_files_older_than_the_index(store) -> None:
    from sqlalchemy import delete, update

    from bifrost.store.files import workspace_generation
    from bifrost.store.models import WorkspaceFile

    await store.files.write("flows/onboard.py", FLOWS)
    await store.files.write("flows/user.py", USER)
    await store.files.write("forms/a.form.json", form())
    async with store.db.write() as session:  # as a database migrated from before 0006 is
        await session.execute(delete(Entity))
        await session.execute(update(WorkspaceFile).values(imports=None))
    generation = await workspace_generation(store.db)
    assert await store.files.reindex() == 3
    assert await store.files.reindex() == 0
    assert await workspace_generation(store.db) == generation
    row = await entity(store, "forms/a.form.json")
    assert row.name == "onboard" and row.broken_refs == []
    onboard = await workflow(store, "flows/onboard.py", "onboard")
    async with store.db.read() as session:
        found = await references.used_by(session, [onboard])
    assert {(r.kind, r.path) for r in found[onboard.id]} == {
        ("form", "forms/a.form.json"),
        ("workflow", "flows/user.py"),
    }
