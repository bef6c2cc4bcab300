"""A sync killed (SIGKILL) at each step, then the server restarted and the sync run again: nothing
is lost on either side, nothing is half applied, and a push GitHub took is recorded from its
journal.

The fake GitHub holds the request of the chosen step (``hang``: before handling it;
``apply_then_hang``: after, so the branch has moved but no answer came back) while the server
process is killed.
"""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import select

from bifrost.store.models import GitHubJournal
from bifrost.testing.fake_github.control import FakeGitHub
from tests.github.sync_helpers import (
    branch,
    connect,
    preview,
    put,
    read,
    start,
    sync,
    until_hanging,
    wait,
)
from tests.serving import Cluster

# Every step on the embedded back end; on PostgreSQL the one that needs the journal (the others
# behave the same there, and each run restarts a server twice).
STEPS = [
    pytest.param("embedded", "GET", r"/git/blobs/", "hang", id="fetching-blobs"),
    pytest.param("embedded", "POST", r"/git/trees$", "hang", id="before-the-tree"),
    pytest.param("embedded", "PATCH", r"/git/refs/heads/main$", "hang", id="before-the-ref-update"),
    *(
        pytest.param(
            name,
            "PATCH",
            r"/git/refs/heads/main$",
            "apply_then_hang",
            id=f"after-the-ref-update-{name}",
        )
        for name in ("embedded", "postgres")
    ),
]
LEASE_S = 2.0


@pytest.fixture
def cluster_env(fake_github: FakeGitHub) -> dict[str, str]:
    return {
        "BIFROST_GITHUB_API_URL": fake_github.url,
        "BIFROST_GITHUB_SYNC_LEASE_S": str(LEASE_S),
        "BIFROST_GITHUB_TIMEOUT_S": "120",
    }


def start_when_free(api: httpx.Client, timeout_s: float = 30.0) -> str:
    """The dead sync's lease expires after LEASE_S: until then a new one is refused (409)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = api.post("/api/github/sync", json={})
        if response.status_code == 202:
            return response.json()["job_id"]
        assert response.status_code == 409, response.text
        if time.monotonic() > deadline:
            raise TimeoutError(response.text)
        time.sleep(0.2)


async def journals(store) -> list[str]:
    async with store.db.read() as session:
        return list(await session.scalars(select(GitHubJournal.commit_sha)))


@pytest.mark.parametrize(("backend", "method", "path", "action"), STEPS, indirect=["backend"])
async def test_a_crash_at_each_step_loses_nothing(
    cluster: Cluster,
    cluster_env: dict[str, str],
    store,
    fake_github: FakeGitHub,
    github_repo: str,
    tmp_path,
    method: str,
    path: str,
    action: str,
) -> None:
    fake_github.commit(github_repo, {"a.txt": "a\n", "b.txt": "b\n"})
    await connect(store, fake_github, github_repo)
    with cluster.client() as api:
        sync(api)
        put(api, "a.txt", b"a, edited here\n")
        put(api, "c.txt", b"c, added here\n")
    fake_github.commit(github_repo, {"b.txt": "b, edited there\n"})

    fake_github.fault(method, path, action=action)
    with cluster.client() as api:
        start(api)
        until_hanging(fake_github)
    for proc in cluster.processes:
        proc.kill()
        proc.wait()
    fake_github.release()
    if action == "apply_then_hang":
        assert branch(fake_github, github_repo)["a.txt"] == b"a, edited here\n"
        assert len(await journals(store)) == 1  # GitHub took it; the database did not record it

    logs = tmp_path / "logs-after"
    logs.mkdir()
    again = Cluster(cluster.backend, logs).start(extra_env=cluster_env)
    try:
        with again.client() as api:
            job = wait(api, start_when_free(api))
            assert job["status"] == "success", job
            if action == "apply_then_hang":
                assert "recorded the push" in job["log"]
            assert preview(api)["is_empty"]
            expected = {
                "a.txt": b"a, edited here\n",
                "b.txt": b"b, edited there\n",
                "c.txt": b"c, added here\n",
            }
            assert branch(fake_github, github_repo) == expected
            assert {p: read(api, p) for p in expected} == expected
    finally:
        again.stop()
    assert await journals(store) == []
