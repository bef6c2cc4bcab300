"""The fake GitHub as one ASGI app: GitHub's routes at the root and under /api/v3 (a GitHub
Enterprise-style base URL), the codeload archive host, the control API, the fault layer."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import ASGIApp

from bifrost.testing.fake_github import admin, routes_apps, routes_git, routes_repos
from bifrost.testing.fake_github.answers import error
from bifrost.testing.fake_github.errors import ApiError
from bifrost.testing.fake_github.faults import API_PREFIX, FaultLayer
from bifrost.testing.fake_github.state import State


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "Not Found" if exc.status_code == 404 else str(exc.detail)
    return error(ApiError(exc.status_code, message))


def create_app(state: State) -> ASGIApp:
    github = [*routes_apps.ROUTES, *routes_repos.ROUTES, *routes_git.ROUTES]
    app = Starlette(
        routes=[*admin.ROUTES, routes_repos.CODELOAD, Mount(API_PREFIX, routes=github), *github],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    app.state.fake = state
    return FaultLayer(app, state.faults)
