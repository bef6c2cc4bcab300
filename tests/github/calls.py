"""Counting GitHub calls from the fake's own request log (what the server saw, retries included)."""

from __future__ import annotations

from bifrost.testing.fake_github.control import FakeGitHub


def api_calls(fake: FakeGitHub, repository: str) -> list[str]:
    """``"METHOD /rest"`` of each API request on ``repository`` since the last look, where
    ``/rest`` follows ``/repos/owner/name``; the log is cleared for the next look."""
    prefix = f"/repos/{repository}"
    made = [
        f"{r['method']} {r['path'].removeprefix(prefix)}"
        for r in fake.requests()
        if r["path"].startswith(prefix + "/")
    ]
    fake.reset_requests()
    return made
