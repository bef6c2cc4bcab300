"""What of an installer's output goes where: a short summary for users, the rest for the log.

The tool's raw output holds local cache and build paths, the administrator's index URLs, and
whatever a build script printed (finding H2: a 422 body carried all of it). Users get a summary:
the tool's own error statements and the build's final exception line, with paths and URLs cut
down to their last segment and host. The server log gets the full output; credentials in URLs
are removed from every line, there and in the job's live output.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

SUMMARY_LINES = 8
SUMMARY_CHARS = 1500
_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")  # https://user:token@mirror/simple
_URL = re.compile(r"\b([a-z][\w+.-]*://)(?:[^/@\s]+@)?([^/\s'\"`<>]*)[^\s'\"`<>)]*", re.I)
_PATH = re.compile(r"(?<![\w.:/~-])(?:~|\.{1,2})?(?:/[^\s'\"`<>(),:;/]+)+/?")
# uv: "error: ...", "  cause: ..."; pip: "ERROR: ..."; a build's "RuntimeError: ..." and a
# compiler's "x.c:1:10: fatal error: cairo.h: ...".
_STATEMENT = re.compile(
    r"^(error|cause|caused by)\b|^[\w.]*(Error|Exception)\b:|^\S+:\d+(:\d+)?: (fatal )?error:",
    re.IGNORECASE,
)


def redact(line: str) -> str:
    """The line without credentials in URLs; for the log and the job's live output."""
    return _CREDENTIALS.sub(r"\1***@", line)


def _shorten(line: str) -> str:
    line = _URL.sub(lambda m: f"{m.group(1)}{m.group(2)}/…", line)
    return _PATH.sub(lambda m: "…/" + os.path.basename(m.group(0).rstrip("/")), line)


def summarize(tool: str, code: int, lines: Iterable[str]) -> str:
    """The few lines that say why ``tool`` failed, without local paths or secrets."""
    picked: list[str] = []
    for raw in lines:
        line = raw.strip()
        if _STATEMENT.search(line):
            short = _shorten(line)
            if short not in picked:
                picked.append(short)
    if not picked:
        return f"{tool} exited with status {code} (its output is in the server log)"
    text = "\n".join(picked[-SUMMARY_LINES:])[-SUMMARY_CHARS:]
    return f"{tool} failed (its full output is in the server log):\n{text}"
