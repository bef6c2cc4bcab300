"""Keep tokens out of the server's log, even when a client puts one in a URL.

uvicorn logs every WebSocket request target at INFO (``"WebSocket /api/ws?token=…" 403``), and no
setting turns that off. Bifrost never asks for a token in a URL; this filter is the safety net
for a client that sends one anyway (an old page, a hand-written script). It also scrubs what
every log record is scrubbed of (:class:`bifrost.secrets.RedactSecrets`: GitHub tokens).
"""

from __future__ import annotations

import logging
import re

from bifrost.secrets import RedactSecrets

_TOKEN_IN_URL = re.compile(r"([?&][A-Za-z_]*token=)[^&\s\"']*", re.IGNORECASE)


class RedactTokens(RedactSecrets):
    def redact(self, text: str) -> str:
        return super().redact(_TOKEN_IN_URL.sub(r"\1[redacted]", text))


def redact_server_logs() -> None:
    """Install the filter on uvicorn's loggers (call after uvicorn configured logging)."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).addFilter(RedactTokens())
