"""What users and logs get of an installer's output (H2: the 422 carried the raw output)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bifrost.packages.installer import Installer
from bifrost.packages.output import summarize
from bifrost.workspace.requirements import parse_requirement

UV_BUILD_FAILURE = """\
Using CPython 3.11.7 interpreter at: /srv/venv/bin/python
   Building bft-broken==1.0
error: Failed to build `bft-broken==1.0`
  cause: The build backend returned an error
  cause: Call to `failing_backend.build_wheel` failed (exit status: 1)

         [stderr]
         Traceback (most recent call last):
           File "/root/.cache/uv/sdists-v11/index/3050/bft-broken/src/failing_backend.py", line 6
             raise RuntimeError("fatal error: cairo.h: No such file or directory")
         RuntimeError: fatal error: cairo.h: No such file or directory
  cause: Failed to fetch: https://user:s3cret@pypi.internal/simple/bft-broken/
         x.c:1:10: fatal error: /usr/include/cairo/cairo.h: No such file or directory

hint: Build failures usually indicate a problem with the package or the build environment
"""


def test_a_summary_says_why_without_paths_or_secrets() -> None:
    summary = summarize("uv", 1, UV_BUILD_FAILURE.splitlines())
    assert summary.splitlines() == [
        "uv failed (its full output is in the server log):",
        "error: Failed to build `bft-broken==1.0`",
        "cause: The build backend returned an error",
        "cause: Call to `failing_backend.build_wheel` failed (exit status: 1)",
        "RuntimeError: fatal error: cairo.h: No such file or directory",
        "cause: Failed to fetch: https://pypi.internal/…",
        "x.c:1:10: fatal error: …/cairo.h: No such file or directory",
    ]
    assert summarize("pip", 2, ["Collecting x", ""]) == (
        "pip exited with status 2 (its output is in the server log)"
    )


@pytest.mark.parametrize("tool", ["uv", "pip"])
async def test_index_credentials_reach_no_message_log_or_event(
    tool: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    index = ["--index-url", "http://bifrost:s3cret-token@127.0.0.1:9/simple"]
    if tool == "pip":
        index += ["--retries", "0", "--timeout", "1"]
    installer = Installer(tmp_path / "packages", tool=tool, index_args=index)
    events: list[dict] = []

    async def report(event: dict) -> None:
        events.append(event)

    with caplog.at_level(logging.DEBUG, logger="bifrost"):
        result = await installer.install([parse_requirement("bft-nowhere")], report=report)
    (message,) = result.failed.values()
    assert "127.0.0.1" in caplog.text or "127.0.0.1" in message  # the failure is described
    outputs = [e["line"] for e in events if e["type"] == "output"]
    assert outputs and "running" in caplog.text
    for text in (message, caplog.text, *outputs):
        assert "s3cret" not in text, text
