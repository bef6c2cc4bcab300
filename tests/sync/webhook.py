"""Deliveries as GitHub makes them: a JSON body and its X-Hub-Signature-256."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any


def signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def push_body(repository: str, branch: str, after: str) -> bytes:
    payload: dict[str, Any] = {
        "ref": f"refs/heads/{branch}",
        "before": "0" * 40,
        "after": after,
        "repository": {"full_name": repository},
        "pusher": {"name": "octocat"},
    }
    return json.dumps(payload).encode()
