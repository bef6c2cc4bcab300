"""Two `bifrost scheduler` processes on PostgreSQL + Redis: one leads automatic sync; when it is
killed, the other takes over within the leader lease and goes on syncing."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bifrost.names import SYNC_LEADER_LEASE
from bifrost.store import leases
from bifrost.store.models import Job
from bifrost.testing.fake_github.control import FakeGitHub
from tests.conftest import wait_until
from tests.github.sync_helpers import connect
from tests.serving import Cluster
from tests.sync.helpers import content, until

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)
LEASE_S = 2.0


@pytest.fixture
def schedulers(backend, fake_github: FakeGitHub, tmp_path) -> Iterator[Cluster]:
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {
        "BIFROST_GITHUB_API_URL": fake_github.url,
        "BIFROST_SYNC_AUTO": "true",
        "BIFROST_SYNC_INTERVAL_S": "0.3",
        "BIFROST_SYNC_LEASE_S": str(LEASE_S),
        "BIFROST_SYNC_RECONCILE_INTERVAL_S": "3600",
    }
    running = Cluster(backend, logs).start(apis=1, workers=1, extra_env=env)
    running._spawn("scheduler", "scheduler", extra_env=env)
    try:
        yield running
    finally:
        running.stop()


def pid_of(process_id: str) -> str:
    """The pid in a process id (``host:pid:suffix``, bifrost.roles.shared.process_id)."""
    return process_id.split(":")[1]


def scheduler_pids(cluster: Cluster) -> dict[int, object]:
    return {p.pid: p for p in cluster.processes if p.args[1] == "scheduler"}


async def test_one_leader_and_a_killed_leader_replaced(
    schedulers: Cluster, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    pids = scheduler_pids(schedulers)
    assert len(pids) == 2

    async def leader() -> int | None:
        held = await leases.holder(store.db, SYNC_LEADER_LEASE)
        return None if held is None else int(pid_of(held.owner))

    async def led() -> bool:
        return await leader() in pids

    await wait_until(led, timeout=30)
    first = await leader()

    await connect(store, fake_github, github_repo)
    fake_github.commit(github_repo, {"one.txt": "1\n"})
    with schedulers.client() as api:
        await until(lambda: content(api, "one.txt") == b"1\n")

        async def runners() -> set[str]:
            async with store.db.read() as session:
                query = select(Job.runner).where(Job.created_by == "sync-daemon")
                return {pid_of(r) for r in (await session.scalars(query)).all()}

        assert await runners() == {str(first)}  # the other scheduler never synced

        async def settled() -> bool:  # a sync killed midway holds its own lease a minute
            async with store.db.read() as session:
                query = select(Job.status).where(Job.created_by == "sync-daemon")
                return all(s in ("success", "failed") for s in await session.scalars(query))

        await wait_until(settled)

        pids[first].send_signal(signal.SIGKILL)
        pids[first].wait()

        async def replaced() -> bool:
            return await leader() not in (None, first)

        await wait_until(replaced, timeout=LEASE_S * 5)
        second = await leader()
        assert second in pids and second != first

        fake_github.commit(github_repo, {"two.txt": "2\n"})
        await until(lambda: content(api, "two.txt") == b"2\n")
        assert await runners() == {str(first), str(second)}
