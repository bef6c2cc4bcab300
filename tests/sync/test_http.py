"""`POST /api/sync/{target}`, `GET /api/sync/status` and `bifrost sync`, against `bifrost up` on
both back ends; and the push webhook's refusal when no secret is configured."""

from __future__ import annotations

import json
import os
import subprocess

from sqlalchemy import select

from bifrost.store.models import Job
from tests.github.sync_helpers import put, wait
from tests.serving import BIFROST, Cluster
from tests.sync.helpers import status
from tests.sync.webhook import signed


def cli(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **cluster.backend.env, "BIFROST_API_URL": cluster.urls[0]}
    return subprocess.run([BIFROST, *args], env=env, capture_output=True, text=True, timeout=120)


async def test_sync_over_http_and_the_cli(cluster: Cluster, api, store) -> None:
    put(api, "shared/util.py", b"X = 1\n")
    started = api.post("/api/sync/modules", json={"repair": False})
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    assert started.json()["channel"] == f"sync:{job_id}"
    job = wait(api, job_id)
    assert job["status"] == "success", job
    assert job["result"]["stale"] == job["result"]["ghost"] == 0
    assert status(api)["modules"]["last_result"] == job["result"]

    unknown = api.post("/api/sync/everything", json={})
    assert unknown.status_code == 422 and "valid targets" in unknown.json()["detail"]
    bad_option = api.post("/api/sync/objects", json={"repair": True})
    assert bad_option.status_code == 422 and "none" in bad_option.json()["detail"]
    unconnected = api.post("/api/sync/github", json={})
    assert unconnected.status_code == 409
    assert "bifrost github connect" in unconnected.json()["detail"]

    done = cli(cluster, "sync", "all")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.split(":")[0] in STATUS_ORDER]
    assert [line.split(":")[0] for line in lines[-4:]] == list(STATUS_ORDER)
    assert "github: skipped" in done.stdout

    shown = cli(cluster, "sync", "status", "--json")
    assert shown.returncode == 0, shown.stderr
    assert list(json.loads(shown.stdout)) == list(STATUS_ORDER)
    assert json.loads(shown.stdout)["objects"]["last_run_at"] is not None
    table = cli(cluster, "sync", "status")
    assert table.returncode == 0 and "requirements" in table.stdout

    refused = cli(cluster, "sync", "github")
    assert refused.returncode == 1 and "409" in refused.stderr
    async with store.db.read() as session:
        kinds = sorted((await session.scalars(select(Job.kind))).all())
    assert kinds == ["sync.run", "sync.run"]

    body = json.dumps({"zen": "hi"}).encode()
    headers = {"X-GitHub-Event": "ping", "X-Hub-Signature-256": signed("any", body)}
    no_secret = api.post("/api/github/webhook", content=body, headers=headers)
    assert no_secret.status_code == 401 and "BIFROST_GITHUB_WEBHOOK_SECRET" in no_secret.text


STATUS_ORDER = ("github", "modules", "requirements", "objects")
