"""`bifrost up`'s roles in the test's own process, its HTTP app called through an ASGI transport:
every statement and command they send is seen by the test (``tests.counting``). A test module
defines its ``app`` fixture with :func:`up_app`; ``client`` (registered in conftest) calls it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from bifrost.roles.api import http_app
from bifrost.settings import Settings


@contextlib.asynccontextmanager
async def up_app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = http_app(settings, ("api", "worker", "scheduler"))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An admin's client of the test module's ``app`` fixture."""
    from tests.conftest import ADMIN_TOKEN  # conftest imports this module

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://bifrost",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=30,
    ) as http:
        yield http
