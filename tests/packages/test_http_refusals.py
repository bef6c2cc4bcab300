"""What the package endpoints and the workers refuse, against real servers on both back ends.

H1: a distribution that shadows the standard library is refused with a 422 naming the module, and
neither reaches requirements.txt nor any package directory. H2: a direct reference is refused
(API, CLI) or ignored (a hand-edited requirements.txt) and never built; a failure's 422 carries a
summary, not the installer's output with its local paths. M7: nothing the API or the workers
installed is writable by other accounts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bifrost.packages.distributions import installed
from tests.conftest import ADMIN_TOKEN, Backend
from tests.packages.test_http_packages import wait_for_workers
from tests.packages.test_shadowing import not_private
from tests.packages.wheels import marker_sdist, wheel
from tests.serving import BIFROST, Cluster


@pytest.fixture
def house(tmp_path: Path, wheelhouse: Path) -> Path:
    """The allowed --find-links directory: the session's wheels plus one that shadows."""
    directory = tmp_path / "house"
    shutil.copytree(wheelhouse, directory)
    wheel(directory, "bft-selectors", "1.0", files={"selectors.py": "x = 1\n"})
    return directory


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """An sdist outside the allowed directory whose build would leave a marker (H2)."""
    directory = tmp_path / "elsewhere"
    directory.mkdir()
    return marker_sdist(directory, "evilsdist", "1.0", tmp_path / "built-marker")


@pytest.fixture
def cluster(pkg_backend: Backend, tmp_path: Path, house: Path) -> Iterator[Cluster]:
    (tmp_path / "logs").mkdir()
    env = {
        "BIFROST_PACKAGES_DIR": str(tmp_path / "packages"),
        "BIFROST_PACKAGE_INDEX_ARGS": f"--no-index --find-links {house}",
    }
    workers = 0 if pkg_backend.name == "embedded" else 2
    running = Cluster(pkg_backend, tmp_path / "logs").start(workers=workers, extra_env=env)
    try:
        yield running
    finally:
        running.stop()


def test_refusals_over_http_and_the_cli(cluster: Cluster, tmp_path: Path, elsewhere: Path) -> None:
    client = cluster.client()
    packages = tmp_path / "packages"

    shadow = client.post("/api/packages/install", json={"requirement": "bft-selectors"})
    assert shadow.status_code == 422, shadow.text
    detail = shadow.json()["detail"]
    assert "bft-selectors 1.0 installs the top-level module 'selectors'" in detail
    assert "standard-library module" in detail and "refused" in detail
    assert client.get("/api/files/requirements.txt").status_code == 404

    for direct in (f"evilsdist @ file://{elsewhere}", "evilsdist @ https://example.invalid/e.whl"):
        refused = client.post("/api/packages/install", json={"requirement": direct})
        assert refused.status_code == 422 and "direct references" in refused.json()["detail"]
    env = {**os.environ, "BIFROST_API_URL": cluster.urls[0], "BIFROST_ADMIN_TOKEN": ADMIN_TOKEN}
    cli = subprocess.run(
        [BIFROST, "packages", "add", "-q", f"evilsdist @ file://{elsewhere}"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 1 and "422" in cli.stderr and "direct references" in cli.stderr

    broken = client.post("/api/packages/install", json={"requirement": "bft-broken"})
    assert broken.status_code == 422
    summary = broken.json()["detail"]
    assert "cairo.h" in summary  # why, in the build's own words
    for local in (os.environ["UV_CACHE_DIR"], "sdists-v", "failing_backend.py", str(tmp_path)):
        assert local not in summary, summary
    assert "failing_backend.py" in cluster.logs()  # the full output is in the server log

    # A hand edit: the direct reference is ignored with its reason and never built; the
    # shadowing package fails on every worker; the rest installs.
    edited = client.put(
        "/api/files/requirements.txt",
        content=f"bft-selectors\nevilsdist @ file://{elsewhere}\nbft-epsilon\n".encode(),
    )
    assert edited.status_code == 200, edited.text
    listing = wait_for_workers(client, edited.json()["file"]["content_hash"])
    assert listing["ignored"] == [
        {
            "line": f"evilsdist @ file://{elsewhere}",
            "error": "direct references (name @ URL) are never installed: packages come only "
            "from the administrator's index (BIFROST_PACKAGE_INDEX_ARGS)",
        }
    ]
    for worker in listing["workers"]:  # they share one directory: the first one installs
        assert worker["requirements"] == ["bft-selectors", "bft-epsilon"], worker
        assert "'selectors' (it is a standard-library module)" in worker["failed"]["bft-selectors"]
        assert any(line.startswith("evilsdist @ file://") for line in worker["ignored"])
    assert not (tmp_path / "built-marker").exists()  # never built, by the API or any worker
    assert not (packages / "selectors.py").exists()
    assert set(installed(packages)) == {"bft-epsilon"}
    assert not_private(packages) == []
