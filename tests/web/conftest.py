"""The browser tests. Starting `bifrost up` costs seconds, so each test module shares one
(embedded, on SQLite: the page is the same on every back end, and the ticket store's two kinds
are tested on both in tests/test_ws_tickets.py); its tests use paths of their own. Every
`bifrost up` here talks to the fake GitHub."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bifrost.settings import Settings
from bifrost.testing.fake_github.control import FakeGitHub
from tests.conftest import ADMIN_TOKEN, Backend
from tests.github.conftest import fake_github, github_repo  # noqa: F401 - fixtures
from tests.serving import Cluster


@pytest.fixture(scope="module")
def site(
    sqlite_template: Path,
    fake_github: FakeGitHub,  # noqa: F811 - the fixture imported above
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    """One `bifrost up` for the test module."""
    base = tmp_path_factory.mktemp("site")
    data_dir = base / "data"
    data_dir.mkdir()
    shutil.copy(sqlite_template, data_dir / "bifrost.db")
    env = {
        "BIFROST_DATA_DIR": str(data_dir),
        "BIFROST_ADMIN_TOKEN": ADMIN_TOKEN,
        "BIFROST_WORKSPACE_ROOT": f"/tmp/bifrost-test-{uuid.uuid4().hex[:8]}/workspace",
        "BIFROST_EXECUTION_TIMEOUT_S": "30",
    }
    settings = Settings(**{k.removeprefix("BIFROST_").lower(): v for k, v in env.items()})
    logs = base / "logs"
    logs.mkdir()
    cluster = Cluster(Backend("embedded", settings, env), logs).start(
        extra_env={"BIFROST_GITHUB_API_URL": fake_github.url}
    )
    try:
        yield cluster
    finally:
        cluster.stop()
