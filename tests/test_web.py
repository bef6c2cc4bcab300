"""The Health page in a real browser on both back ends: Debian's Chromium driven by Playwright
(never a download). The other pages are tested in tests/web/."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browsing import check, go, sign_in
from tests.conftest import Backend
from tests.serving import Cluster


def test_health_page_shows_database_cache_and_workers(
    backend: Backend, browser, cluster: Cluster
) -> None:
    page = sign_in(browser, cluster.urls[0])
    go(page, "health")
    page.wait_for_selector("#status-line[data-status='ok']")
    panels = page.locator("#health-panels")
    expect(panels).to_contain_text("SQLite" if backend.name == "embedded" else "PostgreSQL")
    expect(panels).to_contain_text("embedded" if backend.name == "embedded" else "Redis")
    expect(page.locator("#workers li")).to_have_count(1)
    assert "-1" not in page.inner_text("#health-panels")
    check(page, f"health-{backend.name}")
