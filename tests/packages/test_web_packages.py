"""Packages in real Chromium: the installer's live output, its failures with the tool's own
message (on the Packages and Health pages), removal."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browsing import check, go, sign_in
from tests.packages.conftest import index_args
from tests.serving import Cluster

pytestmark = pytest.mark.parametrize("backend", ["embedded"], indirect=True)


@pytest.fixture
def cluster_env(wheelhouse: Path) -> dict[str, str]:
    return {"BIFROST_PACKAGE_INDEX_ARGS": index_args(wheelhouse)}


def test_a_broken_package_shows_on_the_health_page(browser, cluster: Cluster) -> None:
    with cluster.client() as client:
        edited = client.put(
            "/api/files/requirements.txt", content=b"bft-beta==1.0\nbft-broken==1.0\n"
        )
        assert edited.status_code == 200, edited.text
    page = sign_in(browser, cluster.urls[0])
    go(page, "health")
    failed = page.locator("#workers .failed")
    expect(failed).to_contain_text("bft-broken", timeout=90_000)
    page.click("#workers details summary")
    expect(page.locator("#workers details pre")).to_contain_text("cairo")  # the build's words
    expect(page.locator("#workers")).to_contain_text("2 requirements")


def test_install_with_live_output_and_remove(browser, cluster: Cluster) -> None:
    page = sign_in(browser, cluster.urls[0])
    go(page, "packages")
    lines: list[str] = []
    page.on(
        "websocket",
        lambda socket: socket.on("framereceived", lambda frame: lines.append(str(frame))),
    )
    page.fill("#requirement", "bft-alpha==1.0")
    page.keyboard.press("Enter")
    message = page.locator("#install-message")
    expect(message).to_have_text("installed bft-alpha==1.0", timeout=60_000)
    expect(page.locator("#package-list")).to_contain_text("bft-alpha")
    assert page.inner_text("#install-output").strip()  # the installer's output, live
    assert any('"type": "output"' in line or '"type":"output"' in line for line in lines)

    page.fill("#requirement", "bft-broken==1.0")
    page.click("#install")
    expect(page.locator("#install-message.error")).to_contain_text("cairo", timeout=60_000)
    expect(page.locator("#package-list")).not_to_contain_text("bft-broken")
    check(page, "packages-after-failure")

    page.click("#package-list button.remove")
    page.click("#package-list .confirm button.danger")
    expect(message).to_have_text("removed bft-alpha", timeout=60_000)
    expect(page.locator("#package-list li")).to_have_count(0)
    with cluster.client() as client:
        requirements = client.get("/api/files/requirements.txt").text
    assert "bft-alpha" not in requirements and "bft-broken" not in requirements
