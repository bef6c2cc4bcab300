"""Shared fixtures: every test that takes ``backend`` runs on SQLite and on PostgreSQL + Redis.

PostgreSQL (127.0.0.1:5432, database ``test``) and Redis (127.0.0.1:6379) are the real servers.
Without them a test skips with a reason, except under CI=true, where a missing server fails.
Each test gets its own PostgreSQL database (cloned from a migrated template) and its own Redis key
prefix, so tests never see each other's data.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from bifrost.settings import Settings
from bifrost.store import migrate
from tests.in_process import client  # noqa: F401 - fixture
from tests.s3 import s3_bucket, s3_endpoint  # noqa: F401 - fixtures
from tests.servers import (
    PG_ADMIN,
    REDIS_URL,
    drop_database,
    drop_prefix,
    free_port,
    pg_exec,
    pg_url,
)

__all__ = ["ADMIN_TOKEN", "Backend", "free_port", "wait_until"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ADMIN_TOKEN = "test-admin-token-0123456789abcdef"


def _reachable(kind: str) -> str | None:
    try:
        if kind == "postgres":
            psycopg.connect(PG_ADMIN, connect_timeout=2).close()
        else:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"{kind} is not reachable ({exc})"
    return None


def need_servers() -> None:
    """Skip without PostgreSQL and Redis on a laptop; fail under CI."""
    for kind in ("postgres", "redis"):
        problem = _reachable(kind)
        if problem:
            if IN_CI:
                pytest.fail(f"{problem}; CI must run against the real servers")
            pytest.skip(problem)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated database that every test's database is cloned from (fast: no migrations)."""
    need_servers()
    name = f"bifrost_tpl_{uuid.uuid4().hex[:8]}"
    pg_exec(f"CREATE DATABASE {name}")
    migrate.upgrade(Settings(database_url=pg_url(name)))
    yield name
    drop_database(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("sqlite-template")
    migrate.upgrade(Settings(data_dir=data_dir))
    return data_dir / "bifrost.db"


@dataclass
class Backend:
    name: str
    settings: Settings
    env: dict[str, str]  # the same configuration as environment variables, for subprocesses


@pytest.fixture(params=["embedded", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {
        "BIFROST_DATA_DIR": str(data_dir),
        "BIFROST_ADMIN_TOKEN": ADMIN_TOKEN,
        "BIFROST_WORKSPACE_ROOT": f"/tmp/bifrost-test-{uuid.uuid4().hex[:8]}/workspace",
        "BIFROST_EXECUTION_TIMEOUT_S": "30",
        # No automatic sync in other features' tests: a poll would add GitHub calls to the ones
        # they count, or pull what they are about to preview. tests/sync turns it on.
        "BIFROST_SYNC_AUTO": "false",
    }
    database = None
    prefix = None
    if request.param == "embedded":
        shutil.copy(request.getfixturevalue("sqlite_template"), data_dir / "bifrost.db")
    else:
        template = request.getfixturevalue("pg_template")
        database = f"bifrost_t_{uuid.uuid4().hex[:10]}"
        pg_exec(f"CREATE DATABASE {database} TEMPLATE {template}")
        prefix = f"bifrost-test-{uuid.uuid4().hex[:8]}:"
        env.update(
            BIFROST_DATABASE_URL=pg_url(database),
            BIFROST_REDIS_URL=REDIS_URL,
            BIFROST_CACHE_PREFIX=prefix,
        )
    settings = Settings(**{k.removeprefix("BIFROST_").lower(): v for k, v in env.items()})
    yield Backend(request.param, settings, env)
    if database:
        drop_database(database)
    if prefix:
        drop_prefix(prefix)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator:
    """The shared resources (store, cache, events, files) of the test's back end, no roles."""
    from bifrost.context import open_context

    async with open_context(backend.settings) as ctx:
        yield ctx


@pytest.fixture
def cluster_env() -> dict[str, str]:
    """Extra environment for the `cluster` fixture's processes; override it where needed."""
    return {}


@pytest.fixture
def cluster(backend: Backend, cluster_env: dict[str, str], tmp_path: Path) -> Iterator:
    """A running deployment: `bifrost up` on the test's back end."""
    from tests.serving import Cluster

    logs = tmp_path / "logs"
    logs.mkdir()
    running = Cluster(backend, logs).start(extra_env=cluster_env)
    try:
        yield running
    finally:
        running.stop()


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], timeout: float = 10.0, interval: float = 0.05
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail("chromium is missing; `make test` installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()
