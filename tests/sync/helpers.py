"""What the daemon and webhook tests share: the status over HTTP, and waiting on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import wait_until


def status(api: httpx.Client) -> dict[str, Any]:
    answer = api.get("/api/sync/status")
    assert answer.status_code == 200, answer.text
    return answer.json()


def content(api: httpx.Client, path: str) -> bytes | None:
    answer = api.get(f"/api/files/{path}")
    return answer.content if answer.status_code == 200 else None


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    async def check() -> bool:
        return condition()

    await wait_until(check, timeout=timeout, interval=0.1)
