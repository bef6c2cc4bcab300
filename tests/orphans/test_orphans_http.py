"""Orphans end to end: `bifrost up` on both back ends, the fake GitHub over HTTP.

A workflow whose file is deleted (on GitHub or here) or whose function is removed is orphaned,
never deactivated; it runs exactly its kept code, its imports as they were when it was orphaned;
a rename keeps it; recreate, deactivate and activate recover it.
"""

from __future__ import annotations

import httpx

from bifrost.testing.fake_github.control import FakeGitHub
from tests.github.sync_helpers import connect, failed, preview, put, read, sync
from tests.orphans.sources import ANSWER, HELPER_V1, HELPER_V2, NO_FUNCTION
from tests.serving import list_all
from tests.test_cli import cli as run_cli

WF = "workflows/answer.py"
LIVE = b"""from bifrost import workflow
from shared.helper import value


@workflow
def live():
    return value()
"""


def workflow_at(api: httpx.Client, path: str, function: str = "answer") -> dict:
    (found,) = [
        w
        for w in list_all(api, "/api/workflows")
        if w["path"] == path and w["function_name"] == function
    ]
    return found


def execute(api: httpx.Client, workflow_id: str, **parameters: object) -> dict:
    response = api.post(f"/api/workflows/{workflow_id}/execute", json={"parameters": parameters})
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "success", run
    return run


def orphaned_ids(api: httpx.Client) -> list[str]:
    return [w["id"] for w in list_all(api, "/api/workflows/orphaned")]


async def test_a_remote_delete_orphans_once_confirmed_and_the_orphan_runs_its_kept_code(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    files = {"shared/helper.py": HELPER_V1, WF: ANSWER, "workflows/live.py": LIVE}
    fake_github.commit(github_repo, files)
    await connect(store, fake_github, github_repo)
    sync(api)
    answer = workflow_at(api, WF)
    assert execute(api, answer["id"], x=10)["result"] == {"answer": 11, "version": "kept"}

    fake_github.commit(github_repo, {WF: None})
    shown = preview(api)
    assert [o["workflow_id"] for o in shown["will_orphan"]] == [answer["id"]]
    assert shown["renames"] == []
    message = failed(api)
    assert "confirm_orphans" in message and orphaned_ids(api) == []
    result = sync(api, confirm_orphans=True)
    assert [o["workflow_id"] for o in result["orphaned"]] == [answer["id"]]
    assert read(api, WF) is None

    (orphan,) = list_all(api, "/api/workflows/orphaned")
    assert orphan["id"] == answer["id"] and orphan["is_orphaned"] and orphan["is_active"]
    assert orphan["source_hash"] == answer["source_hash"]
    assert workflow_at(api, WF)["is_orphaned"]  # GET /api/workflows lists orphans too

    # The helper it imports changes afterwards: the orphan still sees the old one, a live
    # workflow the new one.
    put(api, "shared/helper.py", HELPER_V2)
    run = execute(api, answer["id"], x=10)
    assert run["result"] == {"answer": 11, "version": "kept"}
    assert run["ran_generation"] == orphan["orphaned_generation"]
    assert execute(api, workflow_at(api, "workflows/live.py", "live")["id"])["result"] == 2


async def test_a_remote_rename_keeps_the_workflow(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"shared/helper.py": HELPER_V1, WF: ANSWER})
    await connect(store, fake_github, github_repo)
    sync(api)
    answer = workflow_at(api, WF)
    fake_github.commit(github_repo, {WF: None, "workflows/renamed.py": ANSWER})
    shown = preview(api)
    assert shown["will_orphan"] == []
    assert [
        (r["from"], r["to"], [w["workflow_id"] for w in r["workflows"]]) for r in shown["renames"]
    ] == [(WF, "workflows/renamed.py", [answer["id"]])]
    result = sync(api)  # nothing to confirm
    assert result["renamed"] == [
        {"from": WF, "to": "workflows/renamed.py", "workflows": [answer["id"]]}
    ]
    moved = workflow_at(api, "workflows/renamed.py")
    assert moved["id"] == answer["id"] and not moved["is_orphaned"]
    assert orphaned_ids(api) == []
    assert execute(api, moved["id"])["result"] == {"answer": 1, "version": "kept"}


async def test_a_function_removed_on_the_remote_orphans_it(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"shared/helper.py": HELPER_V1, WF: ANSWER})
    await connect(store, fake_github, github_repo)
    sync(api)
    answer = workflow_at(api, WF)
    fake_github.commit(github_repo, {WF: NO_FUNCTION})
    assert [o["workflow_id"] for o in preview(api)["will_orphan"]] == [answer["id"]]
    assert "confirm_orphans" in failed(api)
    sync(api, confirm_orphans=True)
    assert read(api, WF) == NO_FUNCTION
    assert orphaned_ids(api) == [answer["id"]]
    assert execute(api, answer["id"], x=1)["result"] == {"answer": 2, "version": "kept"}
    # Recreating over the live file is refused: the path holds a file again.
    refused = api.post(f"/api/workflows/{answer['id']}/recreate")
    assert refused.status_code == 409 and f"{WF} exists again" in refused.json()["detail"]


def test_local_delete_orphans_then_recreate_deactivate_and_activate(cluster) -> None:
    with cluster.client() as api:
        put(api, "shared/helper.py", HELPER_V1)
        put(api, WF, ANSWER)
        answer = workflow_at(api, WF)
        renamed = api.post(
            "/api/files/rename", json={"old_path": WF, "new_path": "workflows/moved.py"}
        )
        assert renamed.status_code == 200, renamed.text
        assert [w["id"] for w in renamed.json()["workflows"]] == [answer["id"]]
        assert orphaned_ids(api) == []

        assert api.delete("/api/files/workflows/moved.py").status_code == 200
        assert orphaned_ids(api) == [answer["id"]]
        assert execute(api, answer["id"])["result"] == {"answer": 1, "version": "kept"}

        recreated = api.post(f"/api/workflows/{answer['id']}/recreate")
        assert recreated.status_code == 200, recreated.text
        body = recreated.json()
        assert body["id"] == answer["id"] and not body["is_orphaned"]
        assert body["path"] == "workflows/moved.py"
        assert read(api, "workflows/moved.py") == ANSWER
        assert api.post(f"/api/workflows/{answer['id']}/recreate").status_code == 409

        off = api.post(f"/api/workflows/{answer['id']}/deactivate")
        assert off.status_code == 200 and not off.json()["is_active"]
        refused = api.post(f"/api/workflows/{answer['id']}/execute", json={"parameters": {}})
        assert refused.status_code == 409 and "deactivated" in refused.json()["detail"]
        assert answer["id"] not in [w["id"] for w in list_all(api, "/api/workflows")]
        listed = list_all(api, "/api/workflows", include_inactive="true")
        assert answer["id"] in [w["id"] for w in listed]
        on = api.post(f"/api/workflows/{answer['id']}/activate")
        assert on.status_code == 200 and on.json()["is_active"]
        assert execute(api, answer["id"])["result"] == {"answer": 1, "version": "kept"}
        assert api.post("/api/workflows/nope/deactivate").status_code == 404


def cli(cluster, *args: str) -> str:
    return run_cli(cluster, *args, env={"COLUMNS": "300"})  # ids unwrapped


def test_the_cli_lists_and_recovers_orphans(cluster) -> None:
    with cluster.client() as api:
        put(api, "shared/helper.py", HELPER_V1)
        put(api, WF, ANSWER)
        answer = workflow_at(api, WF)
        assert "no orphaned workflows" in cli(cluster, "workflows", "orphaned")
        assert api.delete(f"/api/files/{WF}").status_code == 200
    listed = cli(cluster, "workflows", "orphaned")
    assert answer["id"] in listed and "orphaned" in listed
    assert "recreated" in cli(cluster, "workflows", "recreate", answer["id"])
    assert "deactivated" in cli(cluster, "workflows", "deactivate", answer["id"])
    assert answer["id"] not in cli(cluster, "workflows", "ls")
    assert "inactive" in cli(cluster, "workflows", "ls", "--all")
    assert "activated" in cli(cluster, "workflows", "activate", answer["id"])
