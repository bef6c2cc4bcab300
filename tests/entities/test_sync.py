"""Forms, agents and apps through git, against the fake GitHub, on both back ends: they are
files, so they sync with no code of their own. Every ``sync`` checks the next preview is empty."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from bifrost.context import open_context
from bifrost.testing.fake_github.control import FakeGitHub
from tests.conftest import Backend
from tests.entities.test_api import AGENT, APP, FLOWS, FORM, created
from tests.github.sync_helpers import branch, connect, delete, preview, put, read, sync
from tests.serving import Cluster, list_all

PLURALS = ("forms", "agents", "apps")


def rows(api: httpx.Client) -> dict[str, dict]:
    """Every entity by path, without what is local to an instance (ids, times, generations)."""
    shown = {}
    for plural in PLURALS:
        for entity in list_all(api, f"/api/{plural}"):
            shown[entity["path"]] = {
                key: entity[key] for key in ("kind", "name", "definition", "invalid", "broken_refs")
            }
    return shown


def ids(api: httpx.Client) -> dict[str, str]:
    return {e["path"]: e["id"] for plural in PLURALS for e in list_all(api, f"/api/{plural}")}


def canonical(data: dict) -> bytes:
    return (json.dumps(data, sort_keys=True, indent=2) + "\n").encode()


async def test_round_trip_to_a_fresh_instance(
    api: httpx.Client,
    store,
    fake_github: FakeGitHub,
    github_repo: str,
    second_backend: Backend,
    cluster_env: dict[str, str],
    tmp_path: Path,
) -> None:
    put(api, "flows/onboard.py", FLOWS)
    created(api, "forms", FORM)
    created(api, "forms", {**FORM, "name": "broken", "workflow": "flows/none.py::gone"})
    created(api, "agents", AGENT)
    created(api, "apps", APP)
    put(api, "deep/in/tree/odd.agent.json", b'{"name": "odd"}')  # invalid, raw
    here = rows(api)
    assert here["forms/broken.form.json"]["broken_refs"] == ["flows/none.py::gone"]
    assert "system_prompt" in here["deep/in/tree/odd.agent.json"]["invalid"]
    await connect(store, fake_github, github_repo)
    result = sync(api)
    assert result["pushed"] == 6
    assert branch(fake_github, github_repo)["forms/onboard.form.json"] == read(
        api, "forms/onboard.form.json"
    )
    assert sync(api)["pushed"] == sync(api)["pulled"] == 0  # a sync after a sync: nothing

    logs = tmp_path / "second-logs"
    logs.mkdir()
    second = Cluster(second_backend, logs).start(extra_env=cluster_env)
    try:
        async with open_context(second_backend.settings) as other:
            await connect(other, fake_github, github_repo)
        with second.client() as there:
            assert sync(there)["pulled"] == 6
            assert rows(there) == here
            assert sync(there)["pulled"] == 0
    finally:
        second.stop()


async def test_edits_and_deletes_travel_both_ways(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    put(api, "flows/onboard.py", FLOWS)
    form = created(api, "forms", FORM)
    agent = created(api, "agents", AGENT)
    app = created(api, "apps", APP)
    await connect(store, fake_github, github_repo)
    sync(api)

    # Edited on GitHub: arrives on the next sync, same id.
    fake_github.commit(
        github_repo, {"forms/onboard.form.json": canonical({**FORM, "title": "Edited there"})}
    )
    assert [c["path"] for c in preview(api)["to_pull"]] == ["forms/onboard.form.json"]
    assert sync(api)["pulled"] == 1
    shown = api.get(f"/api/forms/{form['id']}").json()
    assert shown["definition"]["title"] == "Edited there"

    # Edited here: pushed.
    api.put(f"/api/agents/{agent['id']}", json={**AGENT, "system_prompt": "Be brief."})
    assert sync(api)["pushed"] == 1
    pushed = json.loads(branch(fake_github, github_repo)["agents/helper.agent.json"])
    assert pushed["system_prompt"] == "Be brief."

    # Deleted here: disappears from the branch, and stays gone.
    assert api.delete(f"/api/apps/{app['id']}").status_code == 200
    assert sync(api)["deleted_remote"] == 1
    assert "apps/portal.app.json" not in branch(fake_github, github_repo)
    assert sync(api)["pulled"] == 0 and read(api, "apps/portal.app.json") is None

    # Deleted on GitHub: the row goes here.
    fake_github.commit(github_repo, {"agents/helper.agent.json": None})
    sync(api)
    assert api.get(f"/api/agents/{agent['id']}").status_code == 404
    assert list_all(api, "/api/agents") == []

    # An invalid file arrives: stored, flagged, the sync not blocked; fixed later, same id.
    fake_github.commit(github_repo, {"forms/onboard.form.json": b'{"name": "onboard", "title": ['})
    sync(api)
    flagged = api.get(f"/api/forms/{form['id']}").json()
    assert flagged["definition"] is None and flagged["invalid"].startswith("not JSON")
    assert read(api, "forms/onboard.form.json") == b'{"name": "onboard", "title": ['
    fake_github.commit(github_repo, {"forms/onboard.form.json": canonical(FORM)})
    sync(api)
    assert api.get(f"/api/forms/{form['id']}").json()["invalid"] is None


async def test_conflicts_on_an_entity_file(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    put(api, "flows/onboard.py", FLOWS)
    form = created(api, "forms", FORM)
    await connect(store, fake_github, github_repo)
    sync(api)
    path = "forms/onboard.form.json"

    def both_edit(here: str, there: str) -> None:
        api.put(f"/api/forms/{form['id']}", json={**FORM, "title": here})
        fake_github.commit(github_repo, {path: canonical({**FORM, "title": there})})
        (conflict,) = preview(api)["conflicts"]
        assert (conflict["path"], conflict["kind"]) == (path, "modify_modify")

    both_edit("here 1", "there 1")
    sync(api, conflict_resolutions={path: "keep_remote"})
    assert api.get(f"/api/forms/{form['id']}").json()["definition"]["title"] == "there 1"

    both_edit("here 2", "there 2")
    sync(api, conflict_resolutions={path: "keep_local"})
    assert json.loads(branch(fake_github, github_repo)[path])["title"] == "here 2"
    assert api.get(f"/api/forms/{form['id']}").json()["definition"]["title"] == "here 2"

    # Deleted here, changed there: keep_remote brings it back with its id.
    delete(api, path)
    fake_github.commit(github_repo, {path: canonical({**FORM, "title": "there 3"})})
    (conflict,) = preview(api)["conflicts"]
    assert conflict["kind"] == "delete_modify"
    sync(api, conflict_resolutions={path: "keep_remote"})
    assert api.get(f"/api/forms/{form['id']}").json()["definition"]["title"] == "there 3"

    # Changed here, deleted there: keep_local pushes it back.
    api.put(f"/api/forms/{form['id']}", json={**FORM, "title": "here 4"})
    fake_github.commit(github_repo, {path: None})
    (conflict,) = preview(api)["conflicts"]
    assert conflict["kind"] == "modify_delete"
    sync(api, conflict_resolutions={path: "keep_local"})
    assert json.loads(branch(fake_github, github_repo)[path])["title"] == "here 4"


async def test_broken_references_and_users_in_the_preview(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    put(api, "flows/onboard.py", FLOWS)
    form = created(api, "forms", FORM)
    agent = created(api, "agents", AGENT)
    await connect(store, fake_github, github_repo)
    sync(api)

    # A form arrives naming a workflow nobody has: reported before the sync, flagged after.
    lost = canonical({**FORM, "name": "lost", "workflow": "flows/nowhere.py::gone"})
    fake_github.commit(github_repo, {"forms/lost.form.json": lost})
    shown = preview(api)
    assert shown["broken_refs"] == [
        {
            "kind": "form",
            "id": None,
            "name": "lost",
            "path": "forms/lost.form.json",
            "refs": ["flows/nowhere.py::gone"],
        }
    ]
    sync(api)
    lost_id = ids(api)["forms/lost.form.json"]
    assert api.get(f"/api/forms/{lost_id}").json()["broken_refs"] == ["flows/nowhere.py::gone"]
    after = preview(api)
    assert after["is_empty"] and [b["id"] for b in after["broken_refs"]] == [lost_id]

    # The workflow arrives with a form that uses it: nothing broken is announced.
    fake_github.commit(
        github_repo,
        {
            "flows/nowhere.py": b"from bifrost import workflow\n\n\n@workflow\ndef gone():\n"
            b"    pass\n",
            "forms/found.form.json": canonical(
                {**FORM, "name": "found", "workflow": "flows/nowhere.py::gone"}
            ),
        },
    )
    assert preview(api)["broken_refs"] == []
    sync(api)
    assert preview(api)["broken_refs"] == []
    assert api.get(f"/api/forms/{lost_id}").json()["broken_refs"] == []

    # A pull that removes a workflow lists who uses it under will_orphan.
    fake_github.commit(github_repo, {"flows/onboard.py": None})
    orphans = {o["function_name"]: o for o in preview(api)["will_orphan"]}
    assert [(u["kind"], u["id"]) for u in orphans["onboard"]["used_by"]] == [
        ("agent", agent["id"]),
        ("form", form["id"]),
    ]
    assert [(u["kind"], u["id"]) for u in orphans["teams"]["used_by"]] == []
    sync(api, confirm_orphans=True)
    # An orphaned workflow still exists: the form and the agent that name it are not broken.
    assert api.get(f"/api/forms/{form['id']}").json()["broken_refs"] == []
    assert api.get(f"/api/agents/{agent['id']}").json()["broken_refs"] == []
