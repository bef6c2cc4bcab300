"""The health page in a real browser: Debian's Chromium driven by Playwright (never a download)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Backend
from tests.serving import Cluster


def test_health_page_shows_database_cache_and_workers(
    backend: Backend, browser, cluster: Cluster, tmp_path: Path
) -> None:
    page = browser.new_page()
    page.goto(cluster.urls[0])
    page.wait_for_function("document.getElementById('status').textContent === 'ok'")
    text = page.inner_text("body")
    expected_db = "sqlite" if backend.name == "embedded" else "postgresql"
    assert expected_db in text
    assert ("embedded" if backend.name == "embedded" else "redis") in text
    assert page.locator("#workers tbody tr").count() == 1
    assert "no worker" not in page.inner_text("#workers")
    page.screenshot(path=str(tmp_path / "health.png"))
