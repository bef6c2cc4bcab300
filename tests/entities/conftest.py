"""The entity tests share the GitHub tests' fixtures: the fake GitHub, a fresh repository per
test, the `bifrost up` environment that talks to it, and an admin client."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_TOKEN, Backend
from tests.github.conftest import api, cluster_env, fake_github, github_repo
from tests.servers import REDIS_URL, drop_database, drop_prefix, pg_exec, pg_url

__all__ = ["api", "cluster_env", "fake_github", "github_repo", "second_backend"]


@pytest.fixture
def second_backend(
    backend: Backend, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Backend]:
    """Another, empty instance on the same kind of back end: its own database (and Redis
    prefix), data directory and secret key."""
    from bifrost.settings import Settings

    data_dir = tmp_path / "second-data"
    data_dir.mkdir()
    env = {
        "BIFROST_DATA_DIR": str(data_dir),
        "BIFROST_ADMIN_TOKEN": ADMIN_TOKEN,
        "BIFROST_WORKSPACE_ROOT": f"/tmp/bifrost-test-{uuid.uuid4().hex[:8]}/workspace",
        "BIFROST_EXECUTION_TIMEOUT_S": "30",
    }
    database = prefix = None
    if backend.name == "embedded":
        shutil.copy(request.getfixturevalue("sqlite_template"), data_dir / "bifrost.db")
    else:
        database = f"bifrost_t_{uuid.uuid4().hex[:10]}"
        pg_exec(f"CREATE DATABASE {database} TEMPLATE {request.getfixturevalue('pg_template')}")
        prefix = f"bifrost-test-{uuid.uuid4().hex[:8]}:"
        env.update(
            BIFROST_DATABASE_URL=pg_url(database),
            BIFROST_REDIS_URL=REDIS_URL,
            BIFROST_CACHE_PREFIX=prefix,
        )
    settings = Settings(**{k.removeprefix("BIFROST_").lower(): v for k, v in env.items()})
    yield Backend(backend.name, settings, env)
    if database:
        drop_database(database)
    if prefix:
        drop_prefix(prefix)
