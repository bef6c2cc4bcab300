"""The GitHub token never leaks: leaks staged for real against a deployment connected to the fake
GitHub (both back ends), a job that lets the token slip, and a workflow that goes looking for
the token and the secret key."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
import websockets.exceptions
import websockets.sync.client

from bifrost.jobs.runner import JobRunner, Jobs
from bifrost.names import job_channel
from bifrost.secrets import REDACTED, SecretBox
from bifrost.settings import Settings
from bifrost.store import jobs as records
from bifrost.testing.fake_github.control import FakeGitHub
from bifrost.worker.queue import LocalQueue
from tests.github.conftest import FAKE_LOGIN
from tests.security.probes import TRY
from tests.serving import Cluster
from tests.test_http import execute, put, workflow_id

SECRET_KEY = "a shared secret key for every machine 0123"

SNOOP = (
    b"""
import os

from bifrost import workflow
"""
    + TRY.encode()
    + b"""

@workflow
def snoop(key_file: str) -> dict:
    found = {"environ": dict(os.environ), "key_file": _try(lambda: open(key_file).read())}
    if found["key_file"] == "ALLOWED":
        found["key"] = open(key_file).read()
    others = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as seen:
                others[pid] = seen.read().decode(errors="replace")
        except OSError:
            pass
    found["other_environs"] = others
    return found
"""
)


@pytest.fixture
def cluster_env(fake_github: FakeGitHub, backend) -> dict[str, str]:
    env = {"BIFROST_GITHUB_API_URL": fake_github.url, "BIFROST_GITHUB_MAX_RETRIES": "0"}
    if backend.name == "postgres":  # the distributed way: a shared key in the environment
        env["BIFROST_SECRET_KEY"] = SECRET_KEY
    return env


def database_text(backend) -> str:
    """Everything the database holds, as text (the WAL included)."""
    if backend.name == "embedded":
        data_dir = Path(backend.env["BIFROST_DATA_DIR"])
        dump = sqlite3.connect(data_dir / "bifrost.db").iterdump()
        raw = b"".join(p.read_bytes() for p in data_dir.glob("bifrost.db*"))
        return "\n".join(dump) + raw.decode("latin-1")
    with psycopg.connect(backend.env["BIFROST_DATABASE_URL"]) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
        return "\n".join(
            str(conn.execute(f'SELECT * FROM "{name}"').fetchall()) for (name,) in tables
        )


def test_the_token_is_in_no_answer_log_record_or_execution(
    cluster: Cluster, fake_github: FakeGitHub, github_repo: str
) -> None:
    token = fake_github.token
    answers: list[httpx.Response] = []
    with cluster.client() as client:

        def call(method: str, url: str, **options) -> httpx.Response:
            answers.append(client.request(method, url, **options))
            return answers[-1]

        def configure(**extra) -> httpx.Response:
            body = {"repository": github_repo, "branch": "main", **extra}
            return call("POST", "/api/github/configure", json=body)

        assert configure(token=token).status_code == 200
        assert call("GET", "/api/github/config").status_code == 200
        assert call("POST", "/api/github/validate", json={"token": token}).status_code == 200

        # GitHub refusing (401, 404, 403, 5xx), some of its messages quoting the token back
        wrong = "ghp_" + "w" * 36
        assert call("POST", "/api/github/validate", json={"token": wrong}).status_code == 422
        assert configure(token=wrong).status_code == 422
        missing = f"{FAKE_LOGIN}/no-such-{uuid.uuid4().hex[:6]}"
        body = {"repository": missing, "branch": "main"}
        assert call("POST", "/api/github/configure", json=body).status_code == 404
        echo = f"Bad credentials for token {token}"
        for status, expected in ((401, 422), (403, 422), (404, 404), (502, 503)):
            fake_github.fault("GET", f"/repos/{github_repo}$", status=status, message=echo)
            assert configure().status_code == expected
            fake_github.fault("GET", "/commits$", status=status, message=echo)
            assert call("GET", "/api/github/commits").status_code == expected
        fake_github.fault("GET", "/user$", status=403, message=echo)
        assert call("POST", "/api/github/validate", json={"token": token}).status_code == 422
        # a token in a URL (never asked for), and in a WebSocket URL, which uvicorn logs
        call("GET", f"/api/github/config?token={token}")
        ws_url = cluster.urls[0].replace("http", "ws", 1) + f"/api/ws?access_token={token}"
        with pytest.raises(websockets.exceptions.InvalidStatus):
            websockets.sync.client.connect(ws_url, open_timeout=10).close()

        data_dir = Path(cluster.backend.env["BIFROST_DATA_DIR"]).resolve()
        key_file = data_dir / "secret-key"
        put(client, "workflows/snoop.py", SNOOP)
        run = execute(client, workflow_id(client, "snoop"), key_file=str(key_file))
        answers.append(call("GET", "/api/github/config"))

    for answer in answers:
        assert token not in answer.text and token[:12] not in answer.text, answer.text
    refusals = [a.json()["detail"] for a in answers if a.status_code >= 400]
    assert sum(REDACTED in detail for detail in refusals) >= 6  # GitHub's echo, cut out

    assert run["status"] == "success", run["error"]
    seen = str(run["result"])
    keys = [SECRET_KEY]
    if cluster.backend.name == "embedded":
        assert key_file.exists()  # the key is in the data directory, out of the run's reach
        keys.append(key_file.read_text().strip())
        assert run["result"]["key_file"] == "FileNotFoundError"
    else:
        assert not key_file.exists()
    for secret in (token, *keys):
        assert secret not in seen
    settings = {f"BIFROST_{name.upper()}" for name in Settings.model_fields}
    assert not settings & set(run["result"]["environ"])

    assert token not in database_text(cluster.backend)
    cluster.stop()  # every line flushed
    logs = cluster.logs()
    assert "/api/ws?access_token=[redacted]" in logs  # the URL was logged, scrubbed
    assert "BIFROST_SECRET_KEY is not set" not in logs  # set, or embedded: no warning
    assert token not in logs and keys[-1] not in logs


async def test_a_job_that_lets_the_token_slip_saves_and_publishes_none_of_it(store) -> None:
    """Job handlers (a sync) may put a token in a message by mistake: records and events of the
    job never carry it, whatever its shape."""
    github_shaped = "ghp_" + "s" * 36
    other_shape = "enterprise-token-" + uuid.uuid4().hex
    SecretBox(b"k" * 32).seal(other_shape)  # as configure (or a sync opening it) does

    async def leaky(run) -> dict:
        for token in (github_shaped, other_shape):
            await run.report({"type": "output", "line": f"git push with {token}"})
            await run.report(
                {
                    "type": "progress",
                    "phase": "pushing",
                    "current": 1,
                    "total": 1,
                    "message": f"sending {token}",
                    "path": "a.py",
                }
            )
        raise RuntimeError(f"failed with {github_shaped} and {other_shape}")

    job_id = uuid.uuid4().hex
    jobs = Jobs(store.db, store.events, LocalQueue())
    runner = JobRunner(store.db, store.events, "test-runner", {"leaky": leaky})
    async with store.events.subscribe(job_channel(job_id, "leaky")) as inbox:
        await jobs.start("leaky", {}, job_id=job_id, created_by="admin")
        await runner.run(job_id)
        events = []
        while not events or events[-1]["type"] != "done":
            events.append(await asyncio.wait_for(inbox.get(), 10))
    job = await records.get(store.db, job_id)
    saved = str([job.log, job.progress, job.error, job.result])
    published = str(events)
    for text in (saved, published):
        assert github_shaped not in text and other_shape not in text
        assert REDACTED in text
    assert job.error["type"] == "RuntimeError" and "failed with" in job.error["message"]
