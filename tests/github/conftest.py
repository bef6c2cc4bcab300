"""The fake GitHub for every GitHub test: one server process per session (on disk, so what it
writes is a real bare git repository), and a fresh empty repository per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from bifrost.testing.fake_github.control import FakeGitHub
from bifrost.testing.fake_github.process import running_fake_github
from tests.serving import Cluster

FAKE_TOKEN = "ghp_fake_test_token_0123456789abcdef"
FAKE_LOGIN = "octocat"


@pytest.fixture(scope="session")
def fake_github(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGitHub]:
    """``python -m bifrost.testing.fake_github`` on a free port; ``.url`` (API base) and
    ``.token``. ``.data_dir`` holds its bare repositories."""
    data_dir = tmp_path_factory.mktemp("fake-github")
    log_path = data_dir.parent / f"{data_dir.name}.log"
    with running_fake_github(data_dir, log_path, FAKE_TOKEN, FAKE_LOGIN) as fake:
        fake.data_dir = data_dir  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
def github_repo(fake_github: FakeGitHub) -> Iterator[str]:
    """A new empty repository ``octocat/<unique>``; its full name. Faults and the request log
    are cleared after the test so no test sees another's."""
    full_name = f"{FAKE_LOGIN}/repo-{uuid.uuid4().hex[:10]}"
    fake_github.create_repo(full_name)
    yield full_name
    fake_github.clear_faults()
    fake_github.release()
    fake_github.reset_requests()


@pytest.fixture
def cluster_env(fake_github: FakeGitHub) -> dict[str, str]:
    """Every `bifrost up` of these tests talks to the fake GitHub (a test file may add more)."""
    return {"BIFROST_GITHUB_API_URL": fake_github.url}


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator[httpx.Client]:
    """An admin HTTP client of the test's `bifrost up`."""
    with cluster.client() as client:
        yield client
