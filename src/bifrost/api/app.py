"""The FastAPI application and its lifespan."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse

from bifrost.api import errors
from bifrost.api.auth import require_token
from bifrost.api.guard import RequestGuard
from bifrost.api.routes import executions, files, health, packages, workflows, ws
from bifrost.services import open_services
from bifrost.settings import Settings
from bifrost.store.tokens import TokenChecker

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent.parent / "web" / "static"


def create_app(settings: Settings, *, with_worker: bool) -> FastAPI:
    """``with_worker`` also runs executions in this process (always so in embedded mode)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        svc = await open_services(settings, with_worker=with_worker or settings.embedded)
        configured = settings.admin_token.get_secret_value() if settings.admin_token else None
        app.state.services = svc
        app.state.tokens = TokenChecker(svc.db, configured)
        try:
            yield
        finally:
            await svc.close()

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
    app.include_router(packages.router, **protected)
    app.include_router(ws.router)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app
