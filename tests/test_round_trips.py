"""What one `POST /api/workflows/{id}/execute` (wait: true) costs the database and Redis.

Counted, not timed: a warm run is one INSERT to create it and one UPDATE to record it, each a
statement of its own with no BEGIN/COMMIT around it; in `bifrost up` the API hands it to the
worker of its own process, so it costs no Redis command either. Queued to a worker (none free
here), it costs one UPDATE more, the worker's claim, and one PUBLISH of the outcome. The roles of
`bifrost up` run in this process and the HTTP app is called through an ASGI transport, so every
statement is seen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from bifrost.worker import runner
from tests.conftest import Backend
from tests.counting import counting
from tests.in_process import up_app
from tests.test_http import GREETING_V1, GREETING_V2, HELLO

RUNS = 5


@pytest.fixture
async def app(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator:
    # Only a run slower than this writes "running" on embedded; a loaded machine must not add it.
    monkeypatch.setattr(runner, "MARK_RUNNING_AFTER_S", 3600.0)
    async with up_app(backend.settings) as application:
        yield application


async def _put(client: httpx.AsyncClient, path: str, content: bytes) -> dict:
    answer = await client.put(f"/api/files/{path}", content=content)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def _run(client: httpx.AsyncClient, wid: str) -> httpx.Response:
    return await client.post(f"/api/workflows/{wid}/execute", json={"parameters": {"name": "Al"}})


async def test_a_warm_run_costs_one_statement_to_create_and_one_to_record(
    app, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _put(client, "shared/greeting.py", GREETING_V1)
    wid = (await _put(client, "workflows/hello.py", HELLO))["workflows"][0]["id"]
    assert (await _run(client, wid)).json()["result"] == "Hello, Al!"  # reads the workflow once
    queue = app.state.services.dispatcher.queue
    queued = []
    monkeypatch.setattr(queue, "put", lambda key, *a, **k: queued.append(key))
    with counting(app.state.services.db) as counts:
        for _ in range(RUNS):
            answer = await _run(client, wid)
            assert answer.status_code == 200 and answer.json()["result"] == "Hello, Al!"
    assert dict(counts.sql) == {"INSERT": RUNS, "UPDATE": RUNS}
    assert counts.transactions == 0
    assert queued == [] and counts.redis["PUBLISH"] == 0  # no queue, no announcement


async def test_a_run_queued_for_want_of_a_free_slot_is_claimed_and_announced(
    backend: Backend, app, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _put(client, "shared/greeting.py", GREETING_V1)
    wid = (await _put(client, "workflows/hello.py", HELLO))["workflows"][0]["id"]
    assert (await _run(client, wid)).json()["result"] == "Hello, Al!"
    executor = app.state.services.dispatcher.here.executor
    monkeypatch.setattr(executor, "has_free_slot", lambda: False)  # busy: the queue it is
    with counting(app.state.services.db) as counts:
        for _ in range(RUNS):
            answer = await _run(client, wid)
            assert answer.status_code == 200 and answer.json()["result"] == "Hello, Al!"
    claims = RUNS if backend.name == "postgres" else 0  # a distributed worker claims each run
    assert dict(counts.sql) == {"INSERT": RUNS, "UPDATE": RUNS + claims}
    assert counts.transactions == 0
    # The outcome is published once (no SAQ notifications) and awaited on a kept subscription.
    assert counts.redis["PUBLISH"] == (RUNS if backend.name == "postgres" else 0)
    assert counts.redis["SUBSCRIBE"] == counts.redis["UNSUBSCRIBE"] == 0


async def test_a_save_makes_the_next_run_read_the_workflow_again(
    app, client: httpx.AsyncClient
) -> None:
    await _put(client, "shared/greeting.py", GREETING_V1)
    wid = (await _put(client, "workflows/hello.py", HELLO))["workflows"][0]["id"]
    await _run(client, wid)
    await _put(client, "shared/greeting.py", GREETING_V2)
    with counting(app.state.services.db) as counts:
        answer = await _run(client, wid)
    assert answer.json()["result"] == "Howdy, Al!"
    assert answer.json()["generation"] == 3
    # The one-statement INSERT found the generation moved and inserted nothing; the run was then
    # recorded by the read-then-insert transaction.
    assert counts.sql["SELECT"] == 1 and counts.sql["INSERT"] == 2
    assert counts.transactions == 1
    with counting(app.state.services.db) as counts:
        await _run(client, wid)
    assert counts.sql["SELECT"] == 0 and counts.transactions == 0


async def test_a_cached_workflow_never_decides_a_refusal_or_outlives_a_delete(
    app, client: httpx.AsyncClient
) -> None:
    await _put(client, "shared/greeting.py", GREETING_V1)
    wid = (await _put(client, "workflows/hello.py", HELLO))["workflows"][0]["id"]
    assert (await _run(client, wid)).status_code == 200
    bad = HELLO.replace(b"@workflow", b"@workflow(timeout=-1)")
    await _put(client, "workflows/hello.py", bad)
    refused = await _run(client, wid)
    assert refused.status_code == 422 and "timeout" in refused.json()["detail"]
    await _put(client, "workflows/hello.py", HELLO)
    assert (await _run(client, wid)).status_code == 200  # the fix is seen at once
    assert (await client.delete("/api/files/workflows/hello.py")).status_code == 200
    with counting(app.state.services.db) as counts:
        orphan = await _run(client, wid)  # an orphan runs the code it kept (read afresh)
    assert orphan.status_code == 200, orphan.text
    assert orphan.json()["ran_generation"] < orphan.json()["generation"]
    assert counts.sql["SELECT"] >= 1
    listed = (await client.get("/api/executions", params={"limit": 100})).json()["items"]
    assert [e["status"] for e in listed] == ["success"] * 3  # the refusal recorded nothing
