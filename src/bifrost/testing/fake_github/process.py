"""Starting the fake GitHub as a subprocess and waiting until it answers: one way for the tests'
session fixture and for the bench, so both run the fake exactly as a user would."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bifrost.testing.fake_github.control import FakeGitHub


@contextmanager
def running_fake_github(
    data_dir: Path, log_path: Path, token: str, login: str = "octocat"
) -> Iterator[FakeGitHub]:
    """``python -m bifrost.testing.fake_github`` on a free port, its repositories in
    ``data_dir`` and its output in ``log_path`` (shown when it fails to start); killed on exit."""
    command = [sys.executable, "-m", "bifrost.testing.fake_github", "--port", "0"]
    command += ["--data", str(data_dir), "--token", token, "--login", login]
    with open(log_path, "w+b") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            with FakeGitHub(wait_until_answering(proc, log_path, token), token) as fake:
                yield fake
        finally:
            proc.kill()
            proc.wait()


def wait_until_answering(
    proc: subprocess.Popen, log_path: Path, token: str, timeout_s: float = 30.0
) -> str:
    """The fake's URL once it printed it and ``GET /user`` answers 200 with ``token``."""
    deadline = time.monotonic() + timeout_s
    url = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the fake GitHub exited:\n{log_path.read_text()}")
        found = re.search(r"listening on (http://\S+)", log_path.read_text())
        url = url or (found and found.group(1))
        if url:
            try:
                headers = {"Authorization": f"Bearer {token}"}
                if httpx.get(f"{url}/user", headers=headers, timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
        time.sleep(0.05)
    raise TimeoutError(f"the fake GitHub did not answer:\n{log_path.read_text()}")
