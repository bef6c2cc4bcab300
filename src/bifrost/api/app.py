"""The FastAPI application: routers, error handler, static page. The lifespan (which opens the
context and starts the process's roles) is given by the caller, bifrost.roles.api."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from bifrost.api import errors
from bifrost.api.auth import require_token
from bifrost.api.guard import RequestGuard
from bifrost.api.routes import (
    entities,
    executions,
    files,
    github,
    github_sync,
    github_webhook,
    health,
    jobs,
    packages,
    sync,
    workflows,
    ws,
)
from bifrost.settings import Settings

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent.parent / "web" / "static"

# The page runs only its own bundle: no inline script, no other origin, never framed. CodeMirror
# sets element styles, hence 'unsafe-inline' for styles only.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(settings: Settings, lifespan: Lifespan) -> FastAPI:
    """``lifespan`` must set ``app.state.services`` (api.deps.Services) and ``app.state.tokens``."""
    app = FastAPI(
        title="Bifrost",
        version="0.1.0",
        lifespan=lifespan,
        responses=errors.error_responses(422),  # any URL that is not UTF-8
    )
    app.add_middleware(RequestGuard, settings=settings)
    errors.install(app)
    protected = {"dependencies": [Depends(require_token)], "responses": errors.error_responses(401)}
    app.include_router(health.router)
    app.include_router(files.router, **protected)
    app.include_router(workflows.router, **protected)
    app.include_router(executions.router, **protected)
    app.include_router(entities.forms, **protected)
    app.include_router(entities.agents, **protected)
    app.include_router(entities.apps, **protected)
    app.include_router(packages.router, **protected)
    app.include_router(jobs.router, **protected)
    app.include_router(github.router, **protected)
    app.include_router(github_sync.router, **protected)
    app.include_router(github_webhook.router)  # public: the signature is its check
    app.include_router(sync.router, **protected)
    app.include_router(ws.router)

    app.mount("/assets", StaticFiles(directory=STATIC / "assets"), name="assets")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    return app
