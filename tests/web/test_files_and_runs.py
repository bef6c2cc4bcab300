"""Files and Workflows in real Chromium: a file written, saved with Ctrl+S and run (live status,
result, a traceback with its source line); saves the server refuses, with nothing typed lost;
rename and delete."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browsing import go, sign_in
from tests.serving import Cluster

GREET = """import time

from bifrost import workflow


@workflow
def greet(name: str, fail: bool = False, pause: float = 0) -> str:
    time.sleep(pause)
    if fail:
        raise ValueError("no greeting for " + name)
    print("greeting", name)
    return "hello " + name
"""


def _type_into_editor(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.click("#editor .cm-content")
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text(text)  # as a paste: no auto-indent or bracket closing


def _editor_text(page) -> str:  # type: ignore[no-untyped-def]
    return page.evaluate(
        "() => Array.from(document.querySelectorAll('#editor .cm-line'), (l) => l.textContent)"
        ".join('\\n')"
    )


def test_a_file_written_saved_and_run(browser, site: Cluster) -> None:
    page = sign_in(browser, site.urls[0])
    page.fill("#new-path", "flows/greet.py")
    page.keyboard.press("Enter")
    expect(page.locator("#editor-path")).to_have_text("flows/greet.py")
    _type_into_editor(page, GREET)
    assert page.locator("#editor .cm-lineNumbers").count() == 1
    assert page.locator("#editor .cm-line span").count() > 0  # Python is highlighted
    page.keyboard.press("ControlOrMeta+s")
    expect(page.locator("#file-message")).to_contain_text("saved")
    expect(page.locator("button.file[data-path='flows/greet.py']")).to_contain_text("workflow")
    with site.client() as client:
        assert client.get("/api/files/flows/greet.py").text == GREET

    page.click("#file-workflows a:has-text('Run greet')")
    expect(page.locator("#workflow-name")).to_have_text("greet")
    page.fill("#param-name", "Ada")
    page.fill("#param-pause", "1.5")  # long enough to be seen running
    page.click("#run")
    status = page.locator("#run-form .message")
    expect(status).to_have_text("running…")
    expect(status).to_contain_text("success")
    latest = page.locator("#executions details.execution").first
    expect(latest).to_contain_text('"hello Ada"')
    expect(latest.locator("pre.logs")).to_contain_text("greeting Ada")

    page.check("#param-fail")
    page.fill("#param-pause", "0")
    page.click("#run")
    expect(status).to_contain_text("failed")
    failed = page.locator("#executions details.execution").first
    expect(failed).to_contain_text("ValueError: no greeting for Ada")
    traceback = failed.locator("pre.traceback")
    expect(traceback).to_contain_text('raise ValueError("no greeting for " + name)')  # the line
    expect(traceback).to_contain_text("flows/greet.py")


def test_refused_saves_keep_what_was_typed(browser, site: Cluster) -> None:
    with site.client() as client:
        assert client.put("/api/files/shared/notes.txt", content=b"first\n").status_code == 200
    page = sign_in(browser, site.urls[0])
    page.click("button.file[data-path='shared/notes.txt']")
    expect(page.locator("#editor-path")).to_have_text("shared/notes.txt")
    with site.client() as client:  # someone else saves meanwhile
        assert client.put("/api/files/shared/notes.txt", content=b"theirs\n").status_code == 200
    _type_into_editor(page, "mine, typed here")
    page.keyboard.press("ControlOrMeta+s")
    message = page.locator("#file-message.error")
    expect(message).to_contain_text("not saved")
    expect(message).to_contain_text("changed since you read it")  # the server's own words
    assert _editor_text(page) == "mine, typed here"
    with site.client() as client:
        assert client.get("/api/files/shared/notes.txt").text == "theirs\n"

    go(page, "workflows")  # leave and come back: the draft is still there
    go(page, "files")
    page.click("button.file[data-path='shared/notes.txt']")
    expect(page.locator("#file-message")).to_contain_text("unsaved changes")
    assert _editor_text(page) == "mine, typed here"
    page.keyboard.press("ControlOrMeta+s")  # reopened: the new ETag, so this save goes through
    expect(page.locator("#file-message")).to_contain_text("saved")

    page.fill("#new-path", "json.py")  # would shadow the standard library
    page.keyboard.press("Enter")
    _type_into_editor(page, "X = 1\n")
    page.click("#save")
    expect(page.locator("#file-message.error")).to_contain_text("json")
    assert _editor_text(page).startswith("X = 1")


def test_rename_and_delete(browser, site: Cluster) -> None:
    with site.client() as client:
        assert client.put("/api/files/old/name.txt", content=b"x\n").status_code == 200
    page = sign_in(browser, site.urls[0])
    page.click("button.file[data-path='old/name.txt']")
    page.click("#rename")
    page.fill("#rename-path", "new/name.txt")
    page.keyboard.press("Enter")
    expect(page.locator("#editor-path")).to_have_text("new/name.txt")
    expect(page.locator("button.file[data-path='old/name.txt']")).to_have_count(0)
    page.click("#delete")
    page.click(".confirm button.danger")
    expect(page.locator("#file-message")).to_contain_text("deleted new/name.txt")
    expect(page.locator("button.file[data-path='new/name.txt']")).to_have_count(0)
    with site.client() as client:
        assert client.get("/api/files/new/name.txt").status_code == 404
