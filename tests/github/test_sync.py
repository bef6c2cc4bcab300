"""`POST /api/github/sync` end to end: `bifrost up` against the fake GitHub, on both back ends.

Every successful sync is followed by a preview that must be empty (``sync`` checks it), and the
branch and the workspace are compared byte for byte.
"""

from __future__ import annotations

import json
import time

import httpx
from sqlalchemy import select, update
from websockets.sync.client import connect as websocket

from bifrost.names import GITHUB_SYNC_LEASE
from bifrost.store import leases
from bifrost.store.models import Lease, WorkspaceFile, utcnow
from bifrost.testing.fake_github.control import FakeGitHub
from tests.conftest import ADMIN_TOKEN
from tests.github.calls import api_calls
from tests.github.sync_helpers import (
    branch,
    connect,
    delete,
    failed,
    preview,
    put,
    read,
    start,
    sync,
    until_hanging,
    wait,
    workspace,
)
from tests.serving import Cluster, list_all

PNG = b"\x89PNG\r\n\x1a\n\0\0\xffbinary"
BASE_TEXT = b"one\ntwo\nthree\nfour\nfive\n"
HELPER = b"def value():\n    return 41\n"
USES_HELPER = b"""from bifrost import workflow
from shared.helper import value


@workflow
def answer():
    return value() + 1
"""


async def modes(store) -> dict[str, str]:
    async with store.db.read() as session:
        rows = await session.execute(
            select(WorkspaceFile.path, WorkspaceFile.mode).where(
                WorkspaceFile.is_deleted.is_(False)
            )
        )
        return {path: mode for path, mode in rows}


async def test_first_push_to_an_empty_repository(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    files = {"workflows/a.py": b"x = 1\n", "notes/readme.md": b"# hi\n", "img/logo.png": PNG}
    for path, content in files.items():
        put(api, path, content)
    await connect(store, fake_github, github_repo)
    fake_github.reset_requests()
    result = sync(api)
    assert branch(fake_github, github_repo) == files
    assert result["pushed"] == 3 and result["pulled"] == 0
    assert result["commit"] == preview(api)["remote_commit"]
    writes = [c for c in api_calls(fake_github, github_repo) if not c.startswith("GET")]
    # The binary file through the contents API (no blob call), then the text in one tree.
    assert writes == [
        "PUT /contents/img/logo.png",
        "POST /git/trees",
        "POST /git/commits",
        "PATCH /git/refs/heads/main",
    ]


async def test_first_pull_into_an_empty_workspace_by_tarball(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    there = {f"pkg{d}/m{i}.py": f"V = {d * 100 + i}\n" for d in range(4) for i in range(15)}
    there["bin/tool"] = ("#!/bin/sh\necho hi\n", "100755")
    fake_github.commit(github_repo, there)
    await connect(store, fake_github, github_repo)
    fake_github.reset_requests()
    result = sync(api)
    assert result["pulled"] == 61
    calls = api_calls(fake_github, github_repo)
    assert sum(c.startswith("GET /tarball") for c in calls) == 1
    assert not any(c.startswith("GET /git/blobs") for c in calls)
    assert workspace(api) == branch(fake_github, github_repo)
    assert (await modes(store))["bin/tool"] == "100755"


async def test_edits_on_both_sides_binary_and_modes(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    fake_github.commit(
        github_repo,
        {"run.sh": ("echo 1\n", "100755"), "a.txt": "a\n", "data.bin": PNG},
    )
    await connect(store, fake_github, github_repo)
    sync(api)
    assert await modes(store) == {"run.sh": "100755", "a.txt": "100644", "data.bin": "100644"}
    put(api, "run.sh", b"echo 2\n")  # local edit of an executable file
    put(api, "data.bin", PNG + b"more")  # a binary file
    put(api, "new.txt", b"new\n")
    fake_github.commit(github_repo, {"a.txt": "a, edited there\n", "b.txt": "b\n"})
    fake_github.reset_requests()
    result = sync(api)
    assert (result["pulled"], result["pushed"]) == (2, 3)
    on_branch = fake_github.files(github_repo)
    assert on_branch["run.sh"].mode == "100755" and on_branch["run.sh"].content == b"echo 2\n"
    assert workspace(api) == branch(fake_github, github_repo)
    writes = [c for c in api_calls(fake_github, github_repo) if not c.startswith("GET")]
    assert writes == [
        "POST /git/blobs",  # the binary file only: text is inlined
        "POST /git/trees",
        "POST /git/commits",
        "PATCH /git/refs/heads/main",
    ]


async def test_deletes_both_ways_and_no_ghost_module(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    fake_github.commit(
        github_repo,
        {"shared/helper.py": HELPER, "workflows/answer.py": USES_HELPER, "gone.txt": "x\n"},
    )
    await connect(store, fake_github, github_repo)
    sync(api)
    (workflow,) = [w for w in list_all(api, "/api/workflows") if w["function_name"] == "answer"]
    run = api.post(f"/api/workflows/{workflow['id']}/execute", json={"parameters": {}}).json()
    assert run["status"] == "success" and run["result"] == 42, run  # the worker is warm now

    delete(api, "gone.txt")
    fake_github.commit(github_repo, {"shared/helper.py": None})
    result = sync(api)
    assert (result["deleted_local"], result["deleted_remote"]) == (1, 1)
    assert read(api, "shared/helper.py") is None
    assert sorted(branch(fake_github, github_repo)) == ["workflows/answer.py"]
    run = api.post(f"/api/workflows/{workflow['id']}/execute", json={"parameters": {}}).json()
    assert run["status"] == "failed" and run["error"]["type"] == "ModuleNotFoundError", run


async def make_conflicts(api: httpx.Client, store, fake: FakeGitHub, repository: str) -> None:
    """One conflict of each kind."""
    fake.commit(repository, {"mm.txt": BASE_TEXT, "md.txt": "md\n", "dm.txt": "dm\n"})
    await connect(store, fake, repository)
    sync(api)
    put(api, "mm.txt", b"ONE\n" + BASE_TEXT[4:])
    put(api, "md.txt", b"md, edited here\n")
    delete(api, "dm.txt")
    put(api, "aa.txt", b"added here\n")
    fake.commit(
        repository,
        {
            "mm.txt": BASE_TEXT.replace(b"one", b"uno"),
            "md.txt": None,
            "dm.txt": "dm, edited there\n",
            "aa.txt": "added there\n",
        },
    )
    kinds = {c["path"]: c["kind"] for c in preview(api)["conflicts"]}
    assert kinds == {
        "mm.txt": "modify_modify",
        "md.txt": "modify_delete",
        "dm.txt": "delete_modify",
        "aa.txt": "add_add",
    }


async def test_conflicts_refused_without_resolutions_then_kept_local(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    await make_conflicts(api, store, fake_github, github_repo)
    before = workspace(api), branch(fake_github, github_repo)
    message = failed(api, conflict_resolutions={"mm.txt": "keep_local"})
    assert "md.txt (modify_delete)" in message and "nothing was changed" in message
    assert (workspace(api), branch(fake_github, github_repo)) == before
    local = workspace(api)
    every = {path: "keep_local" for path in ("mm.txt", "md.txt", "dm.txt", "aa.txt")}
    sync(api, conflict_resolutions=every)
    assert workspace(api) == local == branch(fake_github, github_repo)
    assert "dm.txt" not in local


async def test_conflicts_kept_remote(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    await make_conflicts(api, store, fake_github, github_repo)
    remote = branch(fake_github, github_repo)
    every = {path: "keep_remote" for path in ("mm.txt", "md.txt", "dm.txt", "aa.txt")}
    result = sync(api, conflict_resolutions=every)
    assert workspace(api) == remote == branch(fake_github, github_repo)
    assert result["pushed"] == result["deleted_remote"] == 0


async def test_a_clean_merge(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"mm.txt": BASE_TEXT})
    await connect(store, fake_github, github_repo)
    sync(api)
    put(api, "mm.txt", b"ONE\n" + BASE_TEXT[4:])
    fake_github.commit(github_repo, {"mm.txt": BASE_TEXT.replace(b"five", b"FIVE")})
    (conflict,) = preview(api)["conflicts"]
    assert conflict["mergeable"]
    result = sync(api, conflict_resolutions={"mm.txt": "merge"})
    merged = b"ONE\ntwo\nthree\nfour\nFIVE\n"
    assert result["merged"] == 1
    assert read(api, "mm.txt") == merged == branch(fake_github, github_repo)["mm.txt"]

    put(api, "mm.txt", b"one, here\n" + merged[4:])  # both edit the first line: no merge
    fake_github.commit(github_repo, {"mm.txt": b"one, there\n" + merged[4:]})
    assert not preview(api)["conflicts"][0]["mergeable"]
    message = failed(api, conflict_resolutions={"mm.txt": "merge"})
    assert "cannot be merged" in message
    assert read(api, "mm.txt") == b"one, here\n" + merged[4:]


async def test_orphans_need_confirmation(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    files = {"shared/helper.py": HELPER, "workflows/answer.py": USES_HELPER}
    fake_github.commit(github_repo, files)
    await connect(store, fake_github, github_repo)
    sync(api)
    fake_github.commit(github_repo, {"workflows/answer.py": None})
    message = failed(api)
    assert "answer (workflows/answer.py::answer)" in message and "confirm_orphans" in message
    assert read(api, "workflows/answer.py") == USES_HELPER
    result = sync(api, confirm_orphans=True)
    assert [o["function_name"] for o in result["orphaned"]] == ["answer"]
    assert read(api, "workflows/answer.py") is None


async def test_a_ref_race_is_retried_on_the_new_head(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"a.txt": "a\n"})
    await connect(store, fake_github, github_repo)
    sync(api)
    put(api, "a.txt", b"a, edited here\n")
    fake_github.race(github_repo, {"b.txt": "b, by a teammate\n"})
    result = sync(api)  # the newcomer's file is pulled too: the next preview is empty
    assert result["pushed"] == 1 and result["pulled"] == 1
    assert workspace(api) == branch(fake_github, github_repo)
    assert read(api, "b.txt") == b"b, by a teammate\n"


async def test_a_ref_race_on_the_same_path_is_a_conflict(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"a.txt": "a\n"})
    await connect(store, fake_github, github_repo)
    sync(api)
    put(api, "a.txt", b"a, edited here\n")
    fake_github.race(github_repo, {"a.txt": "a, edited there\n"})
    message = failed(api)
    assert "a.txt" in message and "nothing was pushed" in message
    assert branch(fake_github, github_repo)["a.txt"] == b"a, edited there\n"
    (conflict,) = preview(api)["conflicts"]
    assert conflict["path"] == "a.txt" and conflict["kind"] == "modify_modify"
    sync(api, conflict_resolutions={"a.txt": "keep_local"})
    assert branch(fake_github, github_repo)["a.txt"] == b"a, edited here\n"


async def test_rate_limits_are_waited_out(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"a.txt": "a\n"})
    await connect(store, fake_github, github_repo)
    sync(api)
    put(api, "a.txt", b"a2\n")
    fake_github.fault("POST", r"/git/trees$", status=429, headers={"retry-after": "1"})
    reset = str(int(time.time()) + 1)
    limited = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
    fake_github.fault("GET", r"/git/ref/", status=403, headers=limited)
    fake_github.reset_requests()
    sync(api)
    calls = api_calls(fake_github, github_repo)
    assert calls.count("POST /git/trees") == 2
    assert branch(fake_github, github_repo)["a.txt"] == b"a2\n"


async def test_a_second_sync_while_one_runs_is_409(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"a.txt": "a\n"})
    await connect(store, fake_github, github_repo)
    fake_github.fault("GET", r"/git/ref/heads/main$", action="hang")
    first = start(api)
    second = api.post("/api/github/sync", json={})
    assert second.status_code == 409
    assert f"job {first}" in second.json()["detail"]
    for body in (
        {"conflict_resolutions": {"a.txt": "keep_both"}},
        {"confirm_orphans": "yes"},
        {"unknown": 1},
    ):
        assert api.post("/api/github/sync", json=body).status_code == 422
    until_hanging(fake_github)
    fake_github.release()
    assert wait(api, first)["status"] == "success"
    assert read(api, "a.txt") == b"a\n"


async def test_a_sync_that_lost_its_lease_changes_nothing(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"a.txt": "a\n"})
    await connect(store, fake_github, github_repo)
    fake_github.fault("GET", r"/git/ref/heads/main$", action="hang")
    job_id = start(api)
    until_hanging(fake_github)
    async with store.db.write() as session:  # the lease expires and another process takes it
        await session.execute(
            update(Lease).where(Lease.name == GITHUB_SYNC_LEASE).values(expires_at=utcnow())
        )
    await leases.acquire(store.db, GITHUB_SYNC_LEASE, "intruder", 60)
    fake_github.release()
    job = wait(api, job_id)
    assert job["status"] == "failed" and "lost" in job["error"]["message"], job
    assert read(api, "a.txt") is None
    assert (await leases.holder(store.db, GITHUB_SYNC_LEASE)).owner == "intruder"


async def test_progress_events_on_the_websocket(
    api: httpx.Client, cluster: Cluster, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"a.txt": "a\n", "b.txt": "b\n"})
    await connect(store, fake_github, github_repo)
    put(api, "c.txt", b"c\n")
    fake_github.fault("GET", r"/git/ref/heads/main$", action="hang")
    job_id = start(api)
    until_hanging(fake_github)
    url = cluster.urls[0].replace("http", "ws", 1) + "/api/ws"
    with websocket(url, additional_headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as ws:
        ws.send(json.dumps({"subscribe": f"git:{job_id}"}))
        assert json.loads(ws.recv(timeout=10)) == {"subscribed": f"git:{job_id}"}
        fake_github.release()
        events = []
        while not events or events[-1]["type"] != "done":
            events.append(json.loads(ws.recv(timeout=30))["event"])
    steps = [
        (e["phase"], e["current"], e["total"], e["path"]) for e in events if e["type"] == "progress"
    ]
    assert steps == [
        ("pulling", 1, 2, "a.txt"),
        ("pulling", 2, 2, "b.txt"),
        ("pushing", 1, 1, "c.txt"),
    ]
    done = events[-1]
    assert done["ok"] and (done["pulled"], done["pushed"]) == (2, 1)
    assert any(e["type"] == "output" for e in events)
    job = wait(api, job_id)  # the record keeps the last progress and the log
    assert job["kind"] == "github.sync" and job["progress"]["phase"] == "pushing"
    assert "2 to pull, 1 to push" in job["log"] and "done: 2 pulled" in job["log"]
