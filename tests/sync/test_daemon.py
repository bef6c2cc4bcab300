"""Automatic sync in `bifrost up` (its scheduler role runs the daemon), on both back ends: a safe
remote change arrives on its own, a change needing a decision waits (and holds back only its
path), and the circuit breaker opens on a failing GitHub and closes once it answers again."""

from __future__ import annotations

import pytest

from bifrost.testing.fake_github.control import FakeGitHub
from tests.github.sync_helpers import connect, put
from tests.sync.helpers import content, status, until

WORKFLOW = b"from bifrost import workflow\n\n\n@workflow\ndef hello():\n    return 1\n"


@pytest.fixture
def cluster_env(fake_github: FakeGitHub) -> dict[str, str]:
    return {
        "BIFROST_GITHUB_API_URL": fake_github.url,
        "BIFROST_SYNC_AUTO": "true",
        "BIFROST_GITHUB_MAX_RETRIES": "0",
        "BIFROST_SYNC_INTERVAL_S": "0.3",
        "BIFROST_SYNC_RECONCILE_INTERVAL_S": "3600",
        "BIFROST_SYNC_BREAKER_FAILURES": "2",
        "BIFROST_SYNC_BREAKER_COOLDOWN_S": "2",
    }


async def test_safe_changes_arrive_and_a_decision_waits(
    api, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    fake_github.commit(
        github_repo,
        {"notes/a.txt": "one\n", "notes/b.txt": "base\n", "workflows/hello.py": WORKFLOW},
    )
    await connect(store, fake_github, github_repo)
    await until(lambda: content(api, "notes/a.txt") == b"one\n")
    await until(lambda: content(api, "workflows/hello.py") == WORKFLOW)
    await until(lambda: status(api)["github"]["last_error"] is None)

    put(api, "notes/b.txt", b"edited here\n")  # and edited there: a conflict
    fake_github.commit(
        github_repo,
        {
            "notes/a.txt": "two\n",
            "notes/b.txt": "edited there\n",
            "notes/c.txt": "new\n",
            "workflows/hello.py": None,  # deleting an active workflow needs a decision
        },
    )
    await until(lambda: content(api, "notes/c.txt") == b"new\n")
    assert content(api, "notes/a.txt") == b"two\n"

    def held() -> dict[str, str]:
        return {item["path"]: item["reason"] for item in status(api)["github"]["pending"]}

    await until(
        lambda: held() == {"notes/b.txt": "conflict", "workflows/hello.py": "deletes_workflow"}
    )
    assert content(api, "notes/b.txt") == b"edited here\n"
    assert content(api, "workflows/hello.py") == WORKFLOW
    github = status(api)["github"]
    assert github["last_error"] is None and github["breaker"]["state"] == "closed"
    assert github["lag_s"] is not None and github["next_run_at"] is not None
    there = fake_github.files(github_repo)["notes/b.txt"].content
    assert there == b"edited there\n"  # not pushed: auto-push is off

    await until(lambda: (status(api)["github"]["last_result"] or {}).get("idle") is True)
    fake_github.reset_requests()  # idle polls from here on: one conditional ref read each
    await until(lambda: len(fake_github.requests()) >= 3)
    polls = [(r["method"], r["path"], r["status"]) for r in fake_github.requests()]
    ref = f"/repos/{github_repo}/git/ref/heads/main"
    assert {(m, p.removeprefix("/api/v3")) for m, p, _ in polls} == {("GET", ref)}, polls
    assert {status for *_, status in polls if status is not None} == {304}, polls


async def test_the_breaker_opens_on_failures_and_closes_after_the_cooldown(
    api, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"a.txt": "one\n"})
    await connect(store, fake_github, github_repo)
    await until(lambda: content(api, "a.txt") == b"one\n")
    fake_github.fault("GET", r"/git/ref", status=502, times=1000)

    def breaker() -> dict:
        return status(api)["github"]["breaker"]

    await until(lambda: breaker()["state"] == "open")
    opened = status(api)["github"]
    assert opened["breaker"]["failures"] >= 2 and opened["breaker"]["retry_at"] is not None
    assert opened["last_error"] and opened["next_run_at"] == opened["breaker"]["retry_at"]

    fake_github.clear_faults()
    fake_github.commit(github_repo, {"a.txt": "two\n"})
    await until(lambda: breaker() == {"state": "closed", "failures": 0, "retry_at": None})
    await until(lambda: content(api, "a.txt") == b"two\n")
    assert status(api)["github"]["last_error"] is None
