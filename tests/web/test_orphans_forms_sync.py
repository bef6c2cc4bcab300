"""The orphan dialog, the Forms page and the sync status panel in real Chromium: an orphan
replaced in the dialog (same id, no longer orphaned, running the replacement's code); a form
rendered from its definition and submitted; the Health page's sync status with a pending
decision; axe-core and screenshots at both widths for the dialog and the Forms page."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

from playwright.sync_api import expect

from bifrost.store.db import Database
from bifrost.store.sync_state import record_run
from tests.browsing import check, go, sign_in
from tests.serving import Cluster

OLD = b"""from bifrost import workflow


@workflow
def tally(a: int, b: int = 1) -> int:
    return a + b
"""

NEW = b"""from bifrost import workflow


@workflow
def tally(a: int, b: int = 1) -> int:
    return 1000 + a + b
"""

WELCOME = b"""from bifrost import workflow


@workflow
def welcome(name: str, count: int = 1, loud: bool = False, color: str = "red") -> str:
    text = " ".join([f"welcome {name} in {color}"] * count)
    return text.upper() if loud else text
"""


def _form(name: str, workflow: str, fields: list[dict]) -> bytes:
    definition = {"name": name, "title": f"{name} form", "workflow": workflow, "fields": fields}
    return json.dumps(definition).encode()


def _open(page, hash_: str) -> None:  # type: ignore[no-untyped-def]
    page.evaluate("(hash) => { location.hash = hash; }", hash_)


def test_an_orphan_replaced_in_the_dialog(browser, site: Cluster) -> None:
    with site.client() as client:
        written = client.put("/api/files/orphans/old_tally.py", content=OLD).json()
        orphan_id = written["workflows"][0]["id"]
        assert client.put("/api/files/orphans/new_tally.py", content=NEW).status_code == 200
        form = _form("tally", "orphans/old_tally.py::tally", [{"name": "a", "type": "integer"}])
        assert client.put("/api/files/forms/tally.form.json", content=form).status_code == 200
        assert client.delete("/api/files/orphans/old_tally.py").status_code == 200
        assert client.get(f"/api/workflows/{orphan_id}").json()["is_orphaned"] is True

    page = sign_in(browser, site.urls[0])
    go(page, "workflows")
    expect(page.locator("#orphaned-list")).to_contain_text("used by form tally")
    _open(page, f"#/workflows/{orphan_id}")
    expect(page.locator("#workflow-name")).to_have_text("tally")
    expect(page.locator("#used-by-list")).to_contain_text("tally")
    expect(page.locator("#used-by-list")).to_contain_text("forms/tally.form.json")
    page.click("#orphan-open")
    dialog = page.locator("dialog#orphan-dialog")
    expect(dialog).to_be_visible()
    replace = dialog.locator("button.replace[data-path='orphans/new_tally.py']")
    expect(replace).to_be_visible()
    expect(dialog.locator("#replacements")).to_contain_text("exact")
    check(page, "orphan-dialog")
    with site.client() as client:  # the path holds a file again: Recreate is refused
        assert client.put("/api/files/orphans/old_tally.py", content=b"X = 1\n").status_code == 200
    dialog.locator("#orphan-recreate").click()
    expect(dialog.locator("#orphan-message[role=alert]")).to_contain_text("orphans/old_tally.py")
    replace.focus()
    page.keyboard.press("Enter")  # the keyboard alone
    expect(dialog).to_have_count(0)
    expect(page.locator("#workflow-detail")).not_to_contain_text("orphaned")
    expect(page.locator("#workflow-name")).to_be_focused()
    expect(page.locator("#orphaned")).to_be_hidden()

    with site.client() as client:
        detail = client.get(f"/api/workflows/{orphan_id}").json()
        assert detail["id"] == orphan_id
        assert detail["is_orphaned"] is False
        assert detail["path"] == "orphans/new_tally.py"
        run = client.post(
            f"/api/workflows/{orphan_id}/execute", json={"parameters": {"a": 2}, "wait": True}
        ).json()
        assert run["status"] == "success", run
        assert run["result"] == 1003


def test_a_form_rendered_and_submitted(browser, site: Cluster) -> None:
    fields = [
        {"name": "name", "type": "text", "label": "Your name", "required": True},
        {"name": "count", "type": "integer", "default": 2},
        {"name": "loud", "type": "boolean"},
        {
            "name": "color",
            "type": "select",
            "options": [{"label": "Red", "value": "red"}, "blue"],
            "default": "red",
        },
    ]
    with site.client() as client:
        assert client.put("/api/files/formflows/welcome.py", content=WELCOME).status_code == 200
        form = _form("welcome", "formflows/welcome.py::welcome", fields)
        created = client.put("/api/files/forms/welcome.form.json", content=form)
        assert created.status_code == 200
        broken = _form("broken", "formflows/nothing.py::gone", [])
        assert client.put("/api/files/forms/broken.form.json", content=broken).status_code == 200
        forms = {f["name"]: f for f in client.get("/api/forms").json()["items"]}
    page = sign_in(browser, site.urls[0])
    go(page, "forms")
    expect(page.locator("#form-list")).to_contain_text("broken references")
    _open(page, f"#/forms/{forms['welcome']['id']}")
    expect(page.locator("#form-title")).to_contain_text("welcome form")
    assert page.input_value("#form-field-count") == "2"
    assert page.get_attribute("#form-field-loud", "type") == "checkbox"
    page.get_by_label("Your name (required)").fill("Ada")
    page.select_option("#form-field-color", label="blue")
    page.check("#form-field-loud")
    check(page, "forms")
    page.click("#form-submit")
    result = page.locator("#form-result")
    expect(result).to_contain_text("success")
    expect(result.locator("pre.result")).to_contain_text("WELCOME ADA IN BLUE WELCOME ADA IN BLUE")

    with site.client() as client:  # a refusal: the server's own words, next to the form
        workflow = client.get("/api/workflows", params={"path": "formflows/welcome.py"}).json()
        welcome = next(w for w in workflow["items"] if w["name"] == "welcome")
        assert client.post(f"/api/workflows/{welcome['id']}/deactivate").status_code == 200
    page.click("#form-submit")
    expect(page.locator("#form-message[role=alert]")).to_contain_text("activate it first")
    expect(page.locator("#form-result")).to_have_count(0)


def test_health_shows_the_sync_status_with_pending_decisions(browser, site: Cluster) -> None:
    held = [{"path": "workflows/held.py", "reason": "changed here and there", "workflows": []}]

    async def hold() -> None:
        db = Database(site.backend.settings)
        try:
            await record_run(
                db, "github", result={"auto": True, "held": held}, error=None, pending=held
            )
        finally:
            await db.close()

    with ThreadPoolExecutor(1) as pool:  # Playwright's own event loop runs in this thread
        pool.submit(asyncio.run, hold()).result()
    page = sign_in(browser, site.urls[0])
    go(page, "health")
    github = page.locator("#sync-status li.sync-target[data-target='github']")
    expect(github).to_contain_text("Pending decisions (1)")
    expect(github.locator("ul.pending")).to_contain_text("workflows/held.py")
    expect(github).to_contain_text("changed here and there")
    expect(page.locator("#sync-status li.sync-target[data-target='modules']")).to_be_visible()
