"""A package that cannot be installed is reported on the health page, with the tool's message."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Backend
from tests.packages.conftest import index_args
from tests.serving import Cluster


def test_a_broken_package_shows_on_the_page(
    backend: Backend, browser, wheelhouse: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {"BIFROST_PACKAGE_INDEX_ARGS": index_args(wheelhouse)}
    cluster = Cluster(backend, logs).start(extra_env=env)
    try:
        with cluster.client() as client:
            edited = client.put(
                "/api/files/requirements.txt", content=b"bft-beta==1.0\nbft-broken==1.0\n"
            )
            assert edited.status_code == 200, edited.text
        page = browser.new_page()
        page.goto(cluster.urls[0])
        page.wait_for_function(
            "document.querySelector('#workers td.failed') !== null", timeout=90_000
        )
        cell = page.inner_text("#workers td.failed")
        assert "1 installed" in cell and "bft-broken" in cell
        assert "cairo" in cell  # the build's own error message reaches the user
    finally:
        cluster.stop()
