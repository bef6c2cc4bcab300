"""What the browser tests share: a signed-in page, and the check every page passes (axe-core,
no horizontal scrolling at 1280 and at 390 px, screenshots into tests/artifacts/)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import ADMIN_TOKEN

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "tests" / "artifacts"
WIDTHS = {"wide": (1280, 800), "phone": (390, 844)}
SERIOUS = ("serious", "critical")


def new_page(browser, url: str):  # type: ignore[no-untyped-def]
    """A page of its own context (its own sessionStorage), with axe-core preloaded: as an init
    script it runs despite the page's Content-Security-Policy, which still applies to the app."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make install-test` installs it (npm ci --prefix web)")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    page.goto(url)
    return page


def sign_in(browser, url: str):  # type: ignore[no-untyped-def]
    page = new_page(browser, url)
    page.fill("#token", ADMIN_TOKEN)
    page.keyboard.press("Enter")
    page.wait_for_selector("nav a[aria-current=page]")
    return page


def go(page, page_id: str) -> None:  # type: ignore[no-untyped-def]
    page.click(f"nav a[data-page='{page_id}']")
    page.wait_for_selector(f"#page-{page_id}")


def check(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """axe-core finds nothing serious or critical, and nothing scrolls sideways, at both widths;
    a screenshot of each goes to tests/artifacts/<name>-<width>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    slug = re.sub(r"\W+", "-", name)
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.evaluate("() => new Promise((done) => requestAnimationFrame(() => done()))")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width} px"
        found = page.evaluate("async () => (await axe.run(document)).violations")
        bad = [v for v in found if v["impact"] in SERIOUS]
        summary = [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
            for v in bad
        ]
        assert not bad, f"{name} at {width} px: {json.dumps(summary, indent=1)}"
        page.screenshot(path=str(ARTIFACTS / f"{slug}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    assert not page.errors, page.errors  # type: ignore[attr-defined]
