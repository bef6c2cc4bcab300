"""Source Control in real Chromium against the fake GitHub: connect with a token, a first sync,
then a conflict merged and an orphaning pull confirmed in the page, with the progress shown."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from bifrost.testing.fake_github.control import FakeGitHub
from tests.browsing import check, go, sign_in
from tests.github.conftest import FAKE_LOGIN, FAKE_TOKEN
from tests.serving import Cluster

JOB = b"from bifrost import workflow\n\n\n@workflow\ndef job() -> int:\n    return 1\n"


def _sync(page) -> None:  # type: ignore[no-untyped-def]
    page.click("#sync")
    expect(page.locator("#sync-outcome")).to_have_text("synced", timeout=60_000)
    bar = page.locator("#sync-bar")
    assert bar.get_attribute("value") == bar.get_attribute("max")
    expect(page.locator("#preview-message")).to_contain_text("In sync")


def test_connect_sync_and_resolve_a_conflict(
    browser, site: Cluster, fake_github: FakeGitHub, github_repo: str
) -> None:
    fake_github.commit(
        github_repo,
        {"shared/config.txt": "line1\nline2\nline3\n", "incoming.txt": "from github\n"},
    )
    with site.client() as client:
        for path, content in {"outgoing.py": b"VALUE = 1\n", "flows/job.py": JOB}.items():
            assert client.put(f"/api/files/{path}", content=content).status_code == 200
    page = sign_in(browser, site.urls[0])
    go(page, "source-control")

    page.fill("#github-token", FAKE_TOKEN)
    page.click("#validate")
    expect(page.locator("#connect-message")).to_contain_text(FAKE_LOGIN)
    made = f"made-{uuid.uuid4().hex[:8]}"  # a repository made before connecting
    page.fill("#new-repository", made)
    page.click("#create-repository button[type=submit]")
    expect(page.locator("#connect-message")).to_contain_text(f"created {FAKE_LOGIN}/{made}")
    assert page.input_value("#github-repository") == f"{FAKE_LOGIN}/{made}"
    page.fill("#github-repository", github_repo)  # but this test syncs with its own
    page.fill("#github-branch", "main")
    page.click("#connect")
    expect(page.locator("#connection-state")).to_contain_text(f"Connected to {github_repo}")
    expect(page.locator("#preview-message")).to_contain_text("2 incoming, 2 outgoing")
    incoming = page.locator("#incoming details.change[data-path='incoming.txt']")
    incoming.locator("summary").click()
    expect(incoming.locator("pre.diff .add")).to_have_text("+from github\n")
    outgoing = page.locator("#outgoing details.change[data-path='outgoing.py']")
    outgoing.locator("summary").click()
    expect(outgoing.locator("pre.diff .add")).to_have_text("+VALUE = 1\n")
    check(page, "source-control-preview")
    _sync(page)
    assert fake_github.files(github_repo)["outgoing.py"].content == b"VALUE = 1\n"
    expect(page.locator("#commits li")).to_have_count(2)  # the teammate's and the sync's

    with site.client() as client:
        put = client.put("/api/files/shared/config.txt", content=b"line1 mine\nline2\nline3\n")
        assert put.status_code == 200
    fake_github.commit(
        github_repo,
        {"shared/config.txt": "line1\nline2\nline3 theirs\n", "flows/job.py": "X = 1\n"},
    )
    page.click("#refresh-preview")
    conflict = page.locator("#conflicts li.conflict[data-path='shared/config.txt']")
    expect(conflict).to_be_visible()
    expect(page.locator("#will-orphan")).to_contain_text("flows/job.py:job")
    conflict.locator("details summary").first.click()
    expect(conflict.locator("pre.diff").first).to_contain_text("+line3 theirs")
    check(page, "source-control-conflict")

    page.click("#sync")
    expect(page.locator("#sync-message.error")).to_contain_text("shared/config.txt")
    conflict.locator("input[value='merge']").check()
    page.click("#sync")
    expect(page.locator("#sync-message.error")).to_contain_text("confirm")
    page.check("#confirm-orphans")
    _sync(page)
    merged = b"line1 mine\nline2\nline3 theirs\n"
    assert fake_github.files(github_repo)["shared/config.txt"].content == merged
    with site.client() as client:
        assert client.get("/api/files/shared/config.txt").content == merged
    go(page, "workflows")
    expect(page.locator("#workflow-list")).to_contain_text("orphaned")
