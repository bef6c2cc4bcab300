"""The fake GitHub for every GitHub test: one server process per session (on disk, so what it
writes is a real bare git repository), and a fresh empty repository per test."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from bifrost.testing.fake_github.control import FakeGitHub

FAKE_TOKEN = "ghp_fake_test_token_0123456789abcdef"
FAKE_LOGIN = "octocat"


@pytest.fixture(scope="session")
def fake_github(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGitHub]:
    """``python -m bifrost.testing.fake_github`` on a free port; ``.url`` (API base) and
    ``.token``. ``.data_dir`` holds its bare repositories."""
    data_dir = tmp_path_factory.mktemp("fake-github")
    log_path = data_dir.parent / f"{data_dir.name}.log"
    log = open(log_path, "w+b")  # noqa: SIM115 - read back on failure, closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bifrost.testing.fake_github",
            "--port",
            "0",
            "--data",
            str(data_dir),
            "--token",
            FAKE_TOKEN,
            "--login",
            FAKE_LOGIN,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = _wait_until_answering(proc, log_path)
        with FakeGitHub(url, FAKE_TOKEN) as fake:
            fake.data_dir = data_dir  # type: ignore[attr-defined]
            yield fake
    finally:
        proc.kill()
        proc.wait()
        log.close()


def _wait_until_answering(proc: subprocess.Popen, log_path, timeout_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    url = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the fake GitHub exited:\n{log_path.read_text()}")
        found = re.search(r"listening on (http://\S+)", log_path.read_text())
        url = url or (found and found.group(1))
        if url:
            try:
                headers = {"Authorization": f"Bearer {FAKE_TOKEN}"}
                if httpx.get(f"{url}/user", headers=headers, timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
        time.sleep(0.05)
    raise TimeoutError(f"the fake GitHub did not answer:\n{log_path.read_text()}")


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
