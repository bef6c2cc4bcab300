"""`bifrost packages add` shows the installer's output as it comes, from its job's channel."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.packages.conftest import index_args
from tests.serving import BIFROST, Cluster


@pytest.fixture
def cluster_env(wheelhouse: Path) -> dict[str, str]:
    return {"BIFROST_PACKAGE_INDEX_ARGS": index_args(wheelhouse)}


def test_add_prints_the_installers_output(cluster: Cluster) -> None:
    environment = {**os.environ, **cluster.backend.env, "BIFROST_API_URL": cluster.urls[0]}
    done = subprocess.run(
        [BIFROST, "packages", "add", "bft-beta==1.0"],
        env=environment,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "added to requirements.txt" in done.stdout
    assert "bft-beta==1.0" in done.stderr  # an installer line, streamed from job:<id>
