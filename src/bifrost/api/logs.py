"""Keep tokens out of the server's log, even when a client puts one in a URL.

uvicorn logs every WebSocket request target at INFO (``"WebSocket /api/ws?token=…" 403``), and no
setting turns that off. Bifrost never asks for a token in a URL; this filter is the safety net
for a client that sends one anyway (an old page, a hand-written script).
"""

from __future__ import annotations

import logging
import re

_TOKEN_IN_URL = re.compile(r"([?&][A-Za-z_]*token=)[^&\s\"']*", re.IGNORECASE)


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _TOKEN_IN_URL.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def redact_server_logs() -> None:
    """Install the filter on uvicorn's loggers (call after uvicorn configured logging)."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).addFilter(RedactTokens())
