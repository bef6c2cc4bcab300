"""What the sync tests share: connecting, editing over HTTP, running a sync and waiting for it."""

from __future__ import annotations

import time
from typing import Any

import httpx

from bifrost.secrets import load_box
from bifrost.store import github
from bifrost.testing.fake_github.control import FakeGitHub
from tests.serving import list_all

FINISHED = ("success", "failed")


async def connect(store: Any, fake: FakeGitHub, repository: str) -> None:
    box = load_box(store.settings)
    await github.save(
        store.db, box, repository=repository, branch="main", token=fake.token, user="admin"
    )


def put(api: httpx.Client, path: str, content: bytes) -> None:
    response = api.put(f"/api/files/{path}", content=content)
    assert response.status_code in (200, 201), response.text


def read(api: httpx.Client, path: str) -> bytes | None:
    response = api.get(f"/api/files/{path}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return response.content


def delete(api: httpx.Client, path: str) -> None:
    assert api.delete(f"/api/files/{path}").status_code == 200


def preview(api: httpx.Client) -> dict:
    response = api.get("/api/github/sync")
    assert response.status_code == 200, response.text
    return response.json()


def start(api: httpx.Client, **body: Any) -> str:
    response = api.post("/api/github/sync", json=body)
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def wait(api: httpx.Client, job_id: str, timeout_s: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        job = api.get(f"/api/jobs/{job_id}").json()
        if job["status"] in FINISHED:
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} did not finish: {job}")
        time.sleep(0.05)


def sync(api: httpx.Client, **body: Any) -> dict:
    """Run a sync to its end; its result (it must succeed) after checking the next preview is
    empty."""
    job = wait(api, start(api, **body))
    assert job["status"] == "success", job
    assert preview(api)["is_empty"], preview(api)
    return job["result"]


def failed(api: httpx.Client, **body: Any) -> str:
    """Run a sync that must fail; its error message."""
    job = wait(api, start(api, **body))
    assert job["status"] == "failed", job
    return job["error"]["message"]


def workspace(api: httpx.Client) -> dict[str, bytes]:
    """Every live file here and its bytes."""
    paths = [entry["path"] for entry in list_all(api, "/api/files")]
    return {path: read(api, path) or b"" for path in paths}


def branch(fake: FakeGitHub, repository: str) -> dict[str, bytes]:
    return {path: f.content for path, f in fake.files(repository).items()}


def until_hanging(fake: FakeGitHub, timeout_s: float = 30.0) -> None:
    """Until the fake holds a request (a ``hang`` fault reached)."""
    deadline = time.monotonic() + timeout_s
    while not any(r["state"] == "hanging" for r in fake.requests()):
        if time.monotonic() > deadline:
            raise TimeoutError("no request reached the hanging fault")
        time.sleep(0.05)
