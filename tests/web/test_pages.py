"""Every page in real Chromium: its content, axe-core, both widths, screenshots; sign-in and the
token's place (this tab's sessionStorage only); the keyboard alone reaches every page."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.browsing import check, go, new_page, sign_in
from tests.conftest import ADMIN_TOKEN
from tests.serving import Cluster

HELLO = b'''from bifrost import workflow


@workflow(description="Greets someone")
def hello(name: str, times: int = 1, loud: bool = False) -> str:
    """Say hello."""
    text = " ".join(["hello " + name] * times)
    return text.upper() if loud else text
'''


def test_every_page_passes_axe_at_both_widths(browser, site: Cluster) -> None:
    with site.client() as client:
        for path, content in {
            "workflows/hello.py": HELLO,
            "lib/util.py": b"X = 1\n",
            "notes/readme.txt": b"<img src=x onerror=alert(1)>\n",  # shown as text
        }.items():
            assert client.put(f"/api/files/{path}", content=content).status_code == 200
    page = new_page(browser, site.urls[0])
    page.wait_for_selector("#sign-in")
    check(page, "sign-in")
    page.fill("#token", ADMIN_TOKEN)
    page.keyboard.press("Enter")

    page.wait_for_selector("#file-tree button.file[data-path='workflows/hello.py']")
    assert "untracked" in page.inner_text("#file-tree")
    assert "workflow" in page.inner_text("#file-tree")
    page.click("button.file[data-path='notes/readme.txt']")
    expect(page.locator("#editor-path")).to_have_text("notes/readme.txt")
    assert page.locator("#editor img").count() == 0  # the file's text is never parsed as HTML
    check(page, "files")

    go(page, "workflows")
    page.wait_for_selector("#run-form #param-name")
    assert page.inner_text("#workflow-name") == "hello"
    assert page.get_attribute("#param-loud", "type") == "checkbox"
    assert page.input_value("#param-times") == "1"
    check(page, "workflows")

    go(page, "packages")
    page.wait_for_selector("#install-form")
    check(page, "packages")

    go(page, "source-control")
    page.wait_for_selector("#connect-form")
    assert "Not connected" in page.inner_text("#connection-state")
    check(page, "source-control")

    go(page, "health")
    page.wait_for_selector("#status-line[data-status='ok']")
    text = page.inner_text("#health-panels")
    assert "SQLite" in text and "embedded" in text and "Workers (1)" in text
    with site.client() as client:  # the API says it; the page keeps it to itself
        assert client.get("/api/health").json()["cache"]["generation"] == -1
    for internal in ("-1", "generation", "null", "undefined", "NaN", "[object"):
        assert internal not in text, (internal, text)
    check(page, "health")


def test_the_token_stays_in_this_tab_and_out_of_urls(browser, site: Cluster) -> None:
    page = new_page(browser, site.urls[0])
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    page.fill("#token", ADMIN_TOKEN)
    page.keyboard.press("Enter")
    page.wait_for_selector("#file-tree")
    assert page.evaluate("sessionStorage.getItem('bifrost.token')") == ADMIN_TOKEN
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []
    page.reload()  # the same tab keeps its session
    page.wait_for_selector("#file-tree")
    go(page, "packages")  # the install box opens the socket on first use
    page.fill("#requirement", "not a requirement !!")
    page.click("#install")
    page.wait_for_selector("#install-message.error")
    assert sockets and all(ADMIN_TOKEN not in url and "?" not in url for url in sockets)
    assert page.url.endswith("#/packages") and ADMIN_TOKEN not in page.url

    other = new_page(browser, site.urls[0])  # another tab of another session: signed out
    other.wait_for_selector("#sign-in")

    page.click("#sign-out")
    page.wait_for_selector("#sign-in")
    assert page.evaluate("sessionStorage.length") == 0


def test_a_wrong_token_is_refused_with_the_server_message(browser, site: Cluster) -> None:
    page = new_page(browser, site.urls[0])
    page.fill("#token", ADMIN_TOKEN + "x")
    page.keyboard.press("Enter")
    page.wait_for_selector("#sign-in-message.error")
    assert "invalid token" in page.inner_text("#sign-in-message")
    assert page.evaluate("sessionStorage.length") == 0


def test_the_keyboard_alone_reaches_every_page(browser, site: Cluster) -> None:
    page = sign_in(browser, site.urls[0])
    seen = []
    for _ in range(14):
        if len(seen) == 6:
            break
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "(() => { const e = document.activeElement; const s = getComputedStyle(e);"
            " return {page: e.dataset.page || null, outline: s.outlineStyle}; })()"
        )
        if focused["page"]:
            assert focused["outline"] != "none"  # the focus is visible
            page.keyboard.press("Enter")
            page.wait_for_selector(f"#page-{focused['page']}")
            seen.append(focused["page"])
            page.focus(f"nav a[data-page='{focused['page']}']")
    assert seen == ["files", "workflows", "forms", "packages", "source-control", "health"]


def test_the_page_and_its_bundle_need_no_token_and_set_a_strict_policy(site: Cluster) -> None:
    page = httpx.get(site.urls[0] + "/")
    assert page.status_code == 200 and "/assets/app.js" in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    bundle = httpx.get(site.urls[0] + "/assets/app.js")
    assert bundle.status_code == 200 and "javascript" in bundle.headers["content-type"]
    assert httpx.get(site.urls[0] + "/assets/../../settings.py").status_code == 404
    assert httpx.get(site.urls[0] + "/api/ws/ticket").status_code == 401  # token first
