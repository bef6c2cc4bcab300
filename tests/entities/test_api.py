"""`/api/forms`, `/api/agents`, `/api/apps` and a form's submit, against `bifrost up` on both
back ends."""

from __future__ import annotations

import json

import httpx

from tests.github.sync_helpers import put, read
from tests.serving import list_all

FLOWS = b"""from bifrost import workflow, data_provider


@workflow
def onboard(name: str, team: str = "ops", seats: int = 1, tags: list | None = None):
    return {"name": name, "team": team, "seats": seats, "tags": tags}


@data_provider
def teams():
    return ["ops", "dev"]
"""
IMPORTER = b"""from bifrost import workflow
import flows.onboard


@workflow
def twice(name: str):
    return [flows.onboard.onboard(name), flows.onboard.onboard(name)]
"""
FORM = {
    "name": "onboard",
    "title": "Onboard someone",
    "workflow": "flows/onboard.py::onboard",
    "fields": [
        {"name": "name", "type": "text", "label": "Name", "required": True},
        {
            "name": "team",
            "type": "select",
            "options": [{"label": "Operations", "value": "ops"}, "dev"],
            "default": "ops",
        },
        {"name": "seats", "type": "integer"},
        {"name": "tags", "type": "multiselect", "options": ["a", "b"]},
    ],
}
AGENT = {"name": "helper", "system_prompt": "Be kind.", "tools": ["flows/onboard.py::onboard"]}
APP = {
    "name": "portal",
    "pages": [{"title": "Home", "forms": ["forms/onboard.form.json"], "workflows": []}],
}


def created(api: httpx.Client, plural: str, body: dict) -> dict:
    response = api.post(f"/api/{plural}", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def refused(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    for word in words:
        assert word in response.json()["detail"], response.json()["detail"]


def test_schema_errors_point_at_the_field(api: httpx.Client) -> None:
    bad_type = {**FORM, "fields": [FORM["fields"][0], {"name": "x", "type": "colour"}]}
    refused(api.post("/api/forms", json=bad_type), 422, "body.fields.1.type", "'text'")
    no_options = {**FORM, "fields": [{"name": "x", "type": "select"}]}
    refused(api.post("/api/forms", json=no_options), 422, "body.fields.0", "needs options")
    bad_default = {
        **FORM,
        "fields": [{"name": "x", "type": "select", "options": ["a"], "default": "z"}],
    }
    refused(api.post("/api/forms", json=bad_default), 422, "body.fields.0", "default")
    refused(api.post("/api/forms", json={**FORM, "workflow": "nope"}), 422, "body.workflow")
    refused(api.post("/api/forms", json={**FORM, "name": "../x"}), 422, "body.name")
    refused(api.post("/api/forms", json={**FORM, "colour": 1}), 422, "body.colour")
    refused(api.post("/api/agents", json={"name": "a"}), 422, "body.system_prompt")
    refused(
        api.post("/api/apps", json={"name": "a", "pages": [{"title": "t", "workflows": [1]}]}),
        422,
        "body.pages.0.workflows.0",
    )
    assert list_all(api, "/api/files") == []  # nothing written


def test_crud_writes_canonical_files(api: httpx.Client) -> None:
    put(api, "flows/onboard.py", FLOWS)
    form = created(api, "forms", FORM)
    assert form["path"] == "forms/onboard.form.json" and form["kind"] == "form"
    assert form["broken_refs"] == [] and form["invalid"] is None
    assert {r["role"]: r["workflow_id"] is not None for r in form["refs"]} == {"workflow": True}
    content = read(api, "forms/onboard.form.json")
    assert content.endswith(b"}\n") and json.loads(content)["fields"][1]["default"] == "ops"
    assert content == json.dumps(json.loads(content), sort_keys=True, indent=2).encode() + b"\n"

    # The same definition, keys in another order: the same bytes, no new generation.
    shuffled = dict(reversed(list(FORM.items())))
    again = api.put(f"/api/forms/{form['id']}", json=shuffled)
    assert again.status_code == 200 and read(api, "forms/onboard.form.json") == content
    assert again.json()["generation"] == form["generation"]

    refused(api.post("/api/forms", json=FORM), 409, "forms/onboard.form.json already exists")
    agent = created(api, "agents", AGENT)
    app = created(api, "apps", APP)
    assert (agent["path"], app["path"]) == ("agents/helper.agent.json", "apps/portal.app.json")
    assert [e["id"] for e in list_all(api, "/api/forms")] == [form["id"]]
    assert api.get(f"/api/agents/{agent['id']}").json()["definition"]["tools"] == AGENT["tools"]
    refused(api.get(f"/api/forms/{agent['id']}"), 404, "no form has id")

    renamed = api.put(f"/api/forms/{form['id']}", json={**FORM, "title": "Welcome"})
    assert renamed.status_code == 200 and renamed.json()["id"] == form["id"]
    assert json.loads(read(api, "forms/onboard.form.json"))["title"] == "Welcome"

    # A workflow that does not exist: saved, flagged, not refused.
    broken = created(api, "forms", {**FORM, "name": "later", "workflow": "flows/x.py::later"})
    assert broken["broken_refs"] == ["flows/x.py::later"]
    put(api, "flows/x.py", b"from bifrost import workflow\n\n\n@workflow\ndef later():\n    pass\n")
    assert api.get(f"/api/forms/{broken['id']}").json()["broken_refs"] == []

    deleted = api.delete(f"/api/apps/{app['id']}")
    assert deleted.status_code == 200 and read(api, "apps/portal.app.json") is None
    refused(api.get(f"/api/apps/{app['id']}"), 404)

    # A raw write of a bad file: stored, flagged invalid.
    put(api, "forms/onboard.form.json", b'{"name": "onboard", "fields": 3}')
    flagged = api.get(f"/api/forms/{form['id']}").json()
    assert flagged["definition"] is None and "title: Field required" in flagged["invalid"]
    assert "fields: " in flagged["invalid"]


def test_used_by_on_the_workflow(api: httpx.Client) -> None:
    put(api, "flows/__init__.py", b"")
    put(api, "flows/onboard.py", FLOWS)
    put(api, "flows/twice.py", IMPORTER)
    form = created(api, "forms", FORM)
    agent = created(api, "agents", AGENT)
    app = created(
        api, "apps", {**APP, "pages": [{"title": "t", "workflows": ["flows/twice.py::twice"]}]}
    )
    ids = {w["function_name"]: w["id"] for w in list_all(api, "/api/workflows")}
    shown = api.get(f"/api/workflows/{ids['onboard']}").json()["used_by"]
    assert shown == [
        {"kind": "agent", "id": agent["id"], "name": "helper", "path": agent["path"]},
        {"kind": "form", "id": form["id"], "name": "onboard", "path": form["path"]},
        {"kind": "workflow", "id": ids["twice"], "name": "twice", "path": "flows/twice.py"},
    ]
    shown = api.get(f"/api/workflows/{ids['twice']}").json()["used_by"]
    assert shown == [{"kind": "app", "id": app["id"], "name": "portal", "path": app["path"]}]
    assert api.get(f"/api/workflows/{ids['teams']}").json()["used_by"] == [
        {"kind": "workflow", "id": ids["twice"], "name": "twice", "path": "flows/twice.py"}
    ]


def test_submit_runs_the_workflow_like_execute(api: httpx.Client) -> None:
    put(api, "flows/onboard.py", FLOWS)
    form = created(api, "forms", FORM)
    submit = f"/api/forms/{form['id']}/submit"

    answer = api.post(submit, json={"fields": {"name": "Ada", "seats": 2, "tags": ["b"]}})
    assert answer.status_code == 200, answer.text
    run = answer.json()
    assert run["status"] == "success"
    assert run["result"] == {"name": "Ada", "team": "ops", "seats": 2, "tags": ["b"]}
    assert run["parameters"] == {"name": "Ada", "team": "ops", "seats": 2, "tags": ["b"]}
    executed = api.get(f"/api/executions/{run['id']}").json()
    assert executed["workflow_id"] == form["refs"][0]["workflow_id"]
    assert set(executed) == set(run)  # the same shape as execute's answer

    refused(api.post(submit, json={"fields": {"team": "dev"}}), 422, "fields.name", "required")
    refused(api.post(submit, json={"fields": {"name": "A", "team": "hr"}}), 422, "fields.team")
    refused(api.post(submit, json={"fields": {"name": "A", "seats": "2"}}), 422, "fields.seats")
    refused(api.post(submit, json={"fields": {"name": "A", "tags": ["z"]}}), 422, "fields.tags")
    refused(api.post(submit, json={"fields": {"name": "A", "x": 1}}), 422, "fields.x")
    late = api.post(submit, json={"fields": {"name": "Bo"}, "wait": False})
    assert late.status_code == 202 and late.json()["status"] == "pending"

    # The workflow's function goes: it is orphaned, the form still holds, and runs its kept code.
    wid = form["refs"][0]["workflow_id"]
    put(api, "flows/onboard.py", b"x = 1\n")
    assert api.get(f"/api/forms/{form['id']}").json()["broken_refs"] == []
    kept = api.post(submit, json={"fields": {"name": "A"}})
    assert kept.status_code == 200 and kept.json()["result"]["team"] == "ops", kept.text

    # Replaced by a compatible function elsewhere: the form runs it, through the same id.
    put(api, "flows/welcome.py", FLOWS.replace(b'"team": team', b'"team": team.upper()'))
    replaced = api.post(
        f"/api/workflows/{wid}/replace", json={"path": "flows/welcome.py", "function": "onboard"}
    )
    assert replaced.status_code == 200, replaced.text
    assert api.get(f"/api/forms/{form['id']}").json()["broken_refs"] == []
    now = api.post(submit, json={"fields": {"name": "A"}})
    assert now.status_code == 200 and now.json()["result"]["team"] == "OPS", now.text
    assert now.json()["workflow_id"] == wid

    # Deactivated on purpose: the form's run is refused with the workflow's own 409.
    assert api.post(f"/api/workflows/{wid}/deactivate").status_code == 200
    refused(api.post(submit, json={"fields": {"name": "A"}}), 409, "deactivated")
    nowhere = created(api, "forms", {**FORM, "name": "nowhere", "workflow": "no/such.py::f"})
    refused(
        api.post(f"/api/forms/{nowhere['id']}/submit", json={"fields": {"name": "A"}}),
        409,
        "no/such.py::f, which is no workflow",
    )
    refused(api.post("/api/forms/nope/submit", json={"fields": {}}), 404)
