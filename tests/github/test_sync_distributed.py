"""The sync in distributed mode: two API processes and a `bifrost scheduler` on PostgreSQL + Redis.

The job goes through the durable queue to the scheduler; either API answers for it; of two
requests at once on different API processes exactly one starts a sync.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from bifrost.testing.fake_github.control import FakeGitHub
from tests.github.sync_helpers import (
    branch,
    connect,
    preview,
    put,
    read,
    sync,
    until_hanging,
    wait,
)
from tests.serving import Cluster

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # distributed mode


@pytest.fixture
def two_apis(backend, fake_github: FakeGitHub, tmp_path) -> Iterator[Cluster]:
    logs = tmp_path / "logs"
    logs.mkdir()
    running = Cluster(backend, logs).start(
        apis=2, workers=1, extra_env={"BIFROST_GITHUB_API_URL": fake_github.url}
    )
    try:
        yield running
    finally:
        running.stop()


async def test_two_apis_and_a_scheduler(
    two_apis: Cluster, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"there.txt": "from the branch\n"})
    await connect(store, fake_github, github_repo)
    with two_apis.client(0) as first, two_apis.client(1) as second:
        put(first, "here.txt", b"from the workspace\n")
        sync(second)
        assert read(first, "there.txt") == b"from the branch\n"
        assert branch(fake_github, github_repo)["here.txt"] == b"from the workspace\n"
        assert preview(first)["is_empty"]

        put(second, "here.txt", b"edited\n")
        fake_github.fault("GET", r"/git/ref/heads/main$", action="hang")

        def post(api: httpx.Client) -> httpx.Response:
            return api.post("/api/github/sync", json={})

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(post, (first, second)))
        assert sorted(a.status_code for a in answers) == [202, 409], [a.text for a in answers]
        (started,) = [a.json()["job_id"] for a in answers if a.status_code == 202]
        (refused,) = [a.json()["detail"] for a in answers if a.status_code == 409]
        assert f"job {started}" in refused
        until_hanging(fake_github)
        fake_github.release()
        job = wait(first, started)
        assert job["status"] == "success", job
        assert branch(fake_github, github_repo)["here.txt"] == b"edited\n"
        assert preview(second)["is_empty"]
