"""A package that cannot be installed is reported on the health page, with the tool's message."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.packages.conftest import index_args
from tests.serving import Cluster


@pytest.fixture
def cluster_env(wheelhouse: Path) -> dict[str, str]:
    return {"BIFROST_PACKAGE_INDEX_ARGS": index_args(wheelhouse)}


def test_a_broken_package_shows_on_the_page(browser, cluster: Cluster) -> None:
    with cluster.client() as client:
        edited = client.put(
            "/api/files/requirements.txt", content=b"bft-beta==1.0\nbft-broken==1.0\n"
        )
        assert edited.status_code == 200, edited.text
    page = browser.new_page()
    page.goto(cluster.urls[0])
    page.wait_for_function("document.querySelector('#workers td.failed') !== null", timeout=90_000)
    cell = page.inner_text("#workers td.failed")
    assert "1 installed" in cell and "bft-broken" in cell  # named even without a token
    assert "cairo" not in cell  # the installer's messages need the token
    page.fill("#token", ADMIN_TOKEN)
    page.click("#token-form button")
    page.wait_for_function(
        "document.querySelector('#workers td.failed').textContent.includes('cairo')"
    )  # the build's own error message reaches the user


def test_install_and_remove_from_the_page(browser, cluster: Cluster) -> None:
    page = browser.new_page()
    page.goto(cluster.urls[0])
    page.fill("#token", ADMIN_TOKEN)
    page.click("#token-form button")

    page.fill("#requirement", "bft-alpha==1.0")
    page.click("#install")
    page.wait_for_function(
        "document.getElementById('install-message').textContent.startsWith('installed')",
        timeout=60_000,
    )
    page.wait_for_function(
        "document.getElementById('package-list').textContent.includes('bft-alpha')"
    )
    assert page.inner_text("#install-output").strip()  # the installer's output, live

    page.fill("#requirement", "bft-broken==1.0")
    page.click("#install")
    page.wait_for_selector("#install-message.error", timeout=60_000)
    assert "cairo" in page.inner_text("#install-message")  # the build's own message
    assert "bft-broken" not in page.inner_text("#package-list")

    page.click("#package-list button.remove")
    page.wait_for_function(
        "document.getElementById('install-message').textContent.startsWith('removed')"
    )
    page.wait_for_function("!document.getElementById('package-list').textContent.trim()")
    with cluster.client() as client:
        requirements = client.get("/api/files/requirements.txt").text
    assert "bft-alpha" not in requirements and "bft-broken" not in requirements
