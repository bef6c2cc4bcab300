"""`sync()` and `sync_status()` called from Python, in this process, on both back ends."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bifrost import errors
from bifrost.names import SYNC_TARGETS
from bifrost.store.models import Job
from bifrost.sync import sync, sync_status
from bifrost.testing.fake_github.control import FakeGitHub
from tests.github.sync_helpers import connect

SHAPE = {"last_run_at", "last_result", "last_error", "next_run_at", "lag_s", "pending", "breaker"}


async def test_unknown_target_and_option_list_the_valid_ones(store) -> None:
    with pytest.raises(errors.InvalidInput) as unknown:
        await sync("everything", context=store)
    for name in ("github", "modules", "requirements", "objects", "all"):
        assert name in unknown.value.message
    with pytest.raises(errors.InvalidInput) as option:
        await sync("modules", context=store, force=True)
    assert "force" in option.value.message and "repair" in option.value.message
    with pytest.raises(errors.InvalidInput) as wrong_type:
        await sync("github", context=store, confirm_orphans="yes")
    assert "confirm_orphans" in wrong_type.value.message


async def test_github_without_a_connection_says_how_to_connect(store) -> None:
    with pytest.raises(errors.Conflict) as refused:
        await sync("github", context=store)
    assert "bifrost github connect" in refused.value.message


async def test_all_runs_every_target_in_order_and_skips_github_unconnected(store) -> None:
    await store.files.write("shared/util.py", b"X = 1\n")
    result = await sync("all", context=store)
    assert [entry["target"] for entry in result["results"]] == list(SYNC_TARGETS)
    github, *others = result["results"]
    assert github["status"] == "skipped" and "not connected" in github["reason"]
    assert [entry["status"] for entry in others] == ["ok", "ok", "ok"]
    modules = others[0]["result"]
    assert modules["generation"] >= 1 and modules["stale"] == modules["ghost"] == 0

    status = await sync_status(context=store)
    assert list(status) == list(SYNC_TARGETS)
    for target, entry in status.items():
        assert set(entry) == SHAPE, target
        assert set(entry["breaker"]) == {"state", "failures", "retry_at"}
    assert status["github"]["last_run_at"] is None
    assert status["modules"]["last_result"] == modules
    assert status["modules"]["lag_s"] >= 0 and status["objects"]["last_error"] is None


async def test_github_runs_the_sync_job_and_waits_for_it(
    store, fake_github: FakeGitHub, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"from_branch.txt": "hello\n"})
    await connect(store, fake_github, github_repo)
    settings = store.settings.model_copy(update={"github_api_url": fake_github.url})
    store.settings = settings
    result = await sync("github", context=store)
    assert result["pulled"] == 1
    assert (await store.files.read("from_branch.txt"))[1] == b"hello\n"
    async with store.db.read() as session:
        job = await session.get(Job, result["job_id"])
    assert job is not None and job.status == "success" and job.kind == "github.sync"

    status = (await sync_status(context=store))["github"]
    assert status["last_result"]["job_id"] == result["job_id"] and status["pending"] == []
    assert status["breaker"] == {"state": "closed", "failures": 0, "retry_at": None}

    second = await sync("github", context=store)  # nothing left to do
    assert second["pulled"] == second["pushed"] == 0
    async with store.db.read() as session:
        kinds = (await session.scalars(select(Job.kind))).all()
    assert kinds == ["github.sync", "github.sync"]


async def test_sync_opens_its_own_context_from_settings(backend) -> None:
    result = await sync("requirements", settings=backend.settings)
    assert result["missing"] == result["stale"] == result["ghost"] == 0
    status = await sync_status(settings=backend.settings)
    assert status["requirements"]["last_result"] == result
