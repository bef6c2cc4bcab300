"""Schemathesis against a live `bifrost up`: the OpenAPI document matches what the API does.

Every status code and body the server sends must be declared, every schema-invalid request
refused, and no request may cause a 5xx or a traceback, except the documented 503 of the GitHub
routes: GitHub is unreachable here (no network), so they answer that, fast.
``positive_data_acceptance`` is left out on purpose: a workspace path, a requirement or a
signature has rules JSON Schema cannot state (reserved names, look-alikes, PEP 508), so
schema-valid data is sometimes rightly a 422 with a message. Seeded and bounded, so the run is
the same every time and takes seconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.serving import Cluster
from tests.test_http import save_hello

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
CONFIG = """
[[operations]]
include-path-regex = "^/api/github/"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]
"""


@pytest.fixture
def cluster_env(tmp_path: Path) -> dict[str, str]:
    """Package installs look only in an empty local directory, and GitHub is a port nobody
    listens on: both fail fast, offline (GitHub's routes answer 503, a documented status)."""
    wheels = tmp_path / "no-wheels"
    wheels.mkdir()
    return {
        "BIFROST_PACKAGE_INDEX_ARGS": f"--no-index --find-links {wheels}",
        "BIFROST_GITHUB_API_URL": "http://127.0.0.1:9/",
        "BIFROST_GITHUB_MAX_RETRIES": "0",
    }


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
def test_the_openapi_document_matches_behaviour(cluster: Cluster, tmp_path: Path) -> None:
    with cluster.client() as client:
        save_hello(client)  # a workflow to run, files to read
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    run = subprocess.run(
        [
            SCHEMATHESIS,
            "--config-file",
            str(config),
            "run",
            f"{cluster.urls[0]}/openapi.json",
            "--header",
            f"Authorization: Bearer {ADMIN_TOKEN}",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            "10",
            "--seed",
            "1",
            "--workers",
            "1",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    logs = cluster.logs()
    assert "Traceback" not in logs and "Exception in ASGI application" not in logs
