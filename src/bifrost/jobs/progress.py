"""The events a job publishes on its channel (``job:<id>``), and their schema.

``progress``: ``{"type": "progress", "phase", "current", "total", "path", "message"}``;
``output``: one line of a tool's output; ``done``: the outcome, ``ok`` true with the result's
fields, or false with ``error``. The web page and ``bifrost packages add`` read these.
"""

from __future__ import annotations

from typing import Any


def progress(
    phase: str, current: int, total: int, message: str = "", path: str | None = None
) -> dict[str, Any]:
    return {
        "type": "progress",
        "phase": phase,
        "current": current,
        "total": total,
        "path": path,
        "message": message,
    }


def output(line: str) -> dict[str, Any]:
    return {"type": "output", "line": line}


def done(result: dict[str, Any] | None = None, error: str | None = None) -> dict[str, Any]:
    if error is not None:
        return {"type": "done", "ok": False, "error": error}
    return {"type": "done", "ok": True, **(result or {})}
