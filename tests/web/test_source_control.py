"""Source Control in real Chromium against the fake GitHub: a token validated, a repository and
a branch picked from lists, a first sync, then a conflict merged and an orphaning pull confirmed
in the page, with the progress shown; and a connection as a GitHub App."""

from __future__ import annotations

import uuid

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from playwright.sync_api import expect

from bifrost.testing.fake_github.control import FakeGitHub
from tests.browsing import check, go, sign_in
from tests.github.conftest import FAKE_LOGIN, FAKE_TOKEN
from tests.github.test_config import new_branch
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
    head = fake_github.commit(
        github_repo,
        {"shared/config.txt": "line1\nline2\nline3\n", "incoming.txt": "from github\n"},
    )
    new_branch(fake_github, github_repo, "dev", head)
    with site.client() as client:
        for path, content in {"outgoing.py": b"VALUE = 1\n", "flows/job.py": JOB}.items():
            assert client.put(f"/api/files/{path}", content=content).status_code == 200
    page = sign_in(browser, site.urls[0])
    go(page, "source-control")

    page.fill("#github-token", FAKE_TOKEN)
    page.click("#validate")
    expect(page.locator("#connect-message")).to_contain_text(FAKE_LOGIN)
    listed = page.locator(f"#github-repository option[value='{github_repo}']")
    expect(listed).to_have_text(f"{github_repo} (private)")
    made = f"made-{uuid.uuid4().hex[:8]}"  # a repository made before connecting
    page.fill("#new-repository", made)
    page.click("#create-repository button[type=submit]")
    expect(page.locator("#connect-message")).to_contain_text(f"created {FAKE_LOGIN}/{made}")
    expect(page.locator("#github-repository")).to_have_value(f"{FAKE_LOGIN}/{made}")
    expect(page.locator("#github-branch option")).to_have_text(
        ["main (empty repository: the first sync creates it)"]
    )
    # but this test syncs with its own: found by name, picked with the keyboard
    page.fill("#repository-search", github_repo.split("/")[1])
    expect(page.locator("#github-repository option")).to_have_count(1)
    page.press("#repository-search", "ArrowDown")
    expect(page.locator("#github-repository")).to_be_focused()
    expect(page.locator("#github-repository")).to_have_value(github_repo)
    expect(page.locator("#github-branch option")).to_have_text(["dev", "main (default)"])
    expect(page.locator("#github-branch")).to_have_value("main")  # the default, preselected
    check(page, "source-control-pick")
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


def test_connect_as_a_github_app_and_sync(
    browser, site: Cluster, fake_github: FakeGitHub, github_repo: str
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    app_id = fake_github.register_app(public.decode(), slug=f"web-{uuid.uuid4().hex[:6]}")
    installation = fake_github.install_app(app_id, FAKE_LOGIN, repositories=[github_repo])
    fake_github.commit(github_repo, {"from-app-test.txt": "hi\n"})
    with site.client() as client:
        assert client.post("/api/github/disconnect").status_code == 200  # a first connection
        assert client.put("/api/files/by_app.py", content=b"BY_APP = 1\n").status_code == 200
    page = sign_in(browser, site.urls[0])
    go(page, "source-control")

    page.check("#auth-app")
    expect(page.locator("#github-token")).to_be_hidden()
    expect(page.locator("#create-repository")).to_be_hidden()  # an app creates none
    page.fill("#app-id", str(app_id))
    page.fill("#app-private-key", private)
    page.click("#validate")
    expect(page.locator("#connect-message")).to_contain_text("[bot]")
    # the installation's repositories (found without its id: the app has only this one)
    expect(page.locator("#github-repository option")).to_have_text([f"{github_repo} (private)"])
    page.select_option("#github-repository", github_repo)
    expect(page.locator("#github-branch")).to_have_value("main")
    check(page, "source-control-app")
    page.click("#connect")
    expect(page.locator("#connection-state")).to_contain_text(
        f"Connected to {github_repo} on main as GitHub App {app_id} (installation {installation})"
    )
    assert page.input_value("#app-private-key") == ""  # the key is not shown again
    assert private.splitlines()[1] not in page.content()
    expect(page.locator("#preview-message")).to_contain_text("1 incoming")
    _sync(page)
    assert fake_github.files(github_repo)["by_app.py"].content == b"BY_APP = 1\n"  # as the app
    expect(page.locator("#connection-state")).to_contain_text(  # still says so after the sync
        f"as GitHub App {app_id} (installation {installation}), last synced"
    )
