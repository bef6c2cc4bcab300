"""GitHub's push webhook: the signature check and what a push means for automatic sync.

GitHub signs each delivery's body with the webhook's secret: ``X-Hub-Signature-256:
sha256=<hex HMAC-SHA256>``. Without a configured secret (``BIFROST_GITHUB_WEBHOOK_SECRET``) no
delivery is believed. A push to the connected repository and branch is published on
``github:push``, where the leading scheduler's daemon (``bifrost.sync.daemon``) polls at once;
anything else is acknowledged and ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from bifrost.errors import InvalidInput
from bifrost.events import EventBus
from bifrost.names import GITHUB_PUSH_CHANNEL
from bifrost.settings import Settings
from bifrost.store import github as connections
from bifrost.store.db import Database

PREFIX = "sha256="


class BadSignature(Exception):
    """The delivery cannot be believed; ``reason`` says why (answered as a 401)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def signature(secret: str, body: bytes) -> str:
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(settings: Settings, body: bytes, header: str | None) -> None:
    """BadSignature unless ``header`` is the body's signature with the configured secret."""
    if settings.github_webhook_secret is None:
        raise BadSignature(
            "no webhook secret is configured (BIFROST_GITHUB_WEBHOOK_SECRET): deliveries are "
            "refused"
        )
    if not header:
        raise BadSignature("missing X-Hub-Signature-256 header")
    expected = signature(settings.github_webhook_secret.get_secret_value(), body)
    if not hmac.compare_digest(expected.encode(), header.strip().encode()):
        raise BadSignature("the X-Hub-Signature-256 signature does not match the body")


def payload(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise InvalidInput("the webhook body is not JSON") from exc
    if not isinstance(value, dict):
        raise InvalidInput("the webhook body is not a JSON object")
    return value


async def on_push(db: Database, events: EventBus, push: dict[str, Any]) -> dict[str, Any]:
    """Wake automatic sync if ``push`` moved the connected branch; what was done."""
    connection = await connections.load(db, None)
    if connection is None:
        return {"synced": False, "reason": "the workspace is not connected to GitHub"}
    repository = (push.get("repository") or {}).get("full_name")
    ref = push.get("ref")
    if not isinstance(repository, str) or repository.lower() != connection.repository.lower():
        return {"synced": False, "reason": f"not the connected repository {connection.repository}"}
    if ref != f"refs/heads/{connection.branch}":
        return {"synced": False, "reason": f"not the connected branch {connection.branch}"}
    await events.publish(
        GITHUB_PUSH_CHANNEL,
        {"repository": repository, "branch": connection.branch, "after": push.get("after")},
    )
    return {"synced": True, "branch": connection.branch}
