"""A waited run that `bifrost up`'s API hands straight to the worker of its own process.

No queue holds such a run, so nothing but its worker knows it is still going: a wait that ends
first must leave it running to its end and recorded, and no reaper may close it meanwhile. The
roles run in this process and the app is called through an ASGI transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from bifrost.api.routes import workflows as workflow_routes
from bifrost.store import executions
from bifrost.worker.reaper import LOST_EXECUTION, close_unrecorded
from tests.conftest import Backend
from tests.in_process import up_app

SLOW = b"""import time

from bifrost import workflow


@workflow(timeout=60)
def slow(seconds: float = 1.0) -> str:
    time.sleep(seconds)
    return "finished"
"""


@pytest.fixture
async def app(backend: Backend) -> AsyncIterator:
    async with up_app(backend.settings) as application:
        yield application


async def _slow_workflow(client: httpx.AsyncClient) -> str:
    saved = await client.put("/api/files/workflows/slow.py", content=SLOW)
    assert saved.status_code == 200, saved.text
    return saved.json()["workflows"][0]["id"]


async def _until(condition, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_wait_that_ends_first_leaves_the_run_going_to_its_end(
    app, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    wid = await _slow_workflow(client)
    monkeypatch.setattr(workflow_routes, "WAIT_GRACE_S", -59.7)  # wait 0.3 s of the 60 s timeout
    answer = await client.post(f"/api/workflows/{wid}/execute", json={"parameters": {}})
    assert answer.status_code == 202, answer.text
    execution_id = answer.json()["id"]
    runner = app.state.services.dispatcher.here
    assert execution_id in runner.running  # taken here, not queued
    row = await executions.get(app.state.services.db, execution_id)
    assert row.status == "running" and row.worker == runner.worker_id

    async def recorded() -> bool:
        row = await executions.get(app.state.services.db, execution_id)
        return row.status != "running"

    await _until(recorded)
    row = await executions.get(app.state.services.db, execution_id)
    assert row.status == "success" and row.result == "finished", row.error


async def test_no_reaper_closes_a_run_its_worker_still_has_in_hand(
    app, client: httpx.AsyncClient
) -> None:
    """The run was never queued, so a reaper asking the queue would find it gone: the worker
    that runs it judges it by what it has in hand, and another worker does not judge it."""
    wid = await _slow_workflow(client)
    db = app.state.services.db
    runner = app.state.services.dispatcher.here
    waited = asyncio.create_task(
        client.post(f"/api/workflows/{wid}/execute", json={"parameters": {"seconds": 1.5}})
    )

    async def marked_running() -> bool:
        for run in list(runner.running):
            if (await executions.get(db, run)).status == "running":
                return True
        return False

    await _until(marked_running)
    (execution_id,) = runner.running
    for worker, in_hand in ((runner.worker_id, runner.running), ("other:1", set())):
        closed = await close_unrecorded(db, worker, in_hand, min_age_s=0, message=LOST_EXECUTION)
        assert closed == 0
    answer = await waited
    assert answer.status_code == 200 and answer.json()["result"] == "finished", answer.text
    assert (await executions.get(db, execution_id)).status == "success"


async def test_a_stopping_worker_gives_runs_started_here_its_grace_then_stops_them(
    app, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose wait has ended is the worker's alone; at stop it gets the shutdown grace a
    queued run gets, not forever."""
    wid = await _slow_workflow(client)
    monkeypatch.setattr(workflow_routes, "WAIT_GRACE_S", -59.7)
    short = await client.post(
        f"/api/workflows/{wid}/execute", json={"parameters": {"seconds": 0.4}}
    )
    long = await client.post(f"/api/workflows/{wid}/execute", json={"parameters": {"seconds": 30}})
    assert short.status_code == long.status_code == 202
    runner = app.state.services.dispatcher.here
    await runner.drain(grace_s=4)
    assert not runner.running
    db = app.state.services.db
    assert (await executions.get(db, short.json()["id"])).status == "success"
    # Stopped, not waited for (it would have succeeded); its row is closed once this worker is gone.
    assert (await executions.get(db, long.json()["id"])).status == "running"
