"""The FastAPI application and its lifespan."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse

from bifrost.api.auth import require_token
from bifrost.api.errors import install_error_handlers
from bifrost.api.routes import executions, files, health, packages, workflows, ws
from bifrost.services import open_services
from bifrost.settings import Settings
from bifrost.store.tokens import TokenChecker

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent.parent / "web" / "static"


def create_app(settings: Settings, *, with_worker: bool) -> FastAPI:
    """``with_worker`` also runs executions in this process (always so in embedded mode)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        svc = await open_services(settings, with_worker=with_worker or settings.embedded)
        configured = settings.admin_token.get_secret_value() if settings.admin_token else None
        app.state.services = svc
        app.state.tokens = TokenChecker(svc.db, configured)
        try:
            yield
        finally:
            await svc.close()

    app = FastAPI(title="Bifrost", version="0.1.0", lifespan=lifespan)
    protected = [Depends(require_token)]
    app.include_router(health.router)
    app.include_router(files.router, dependencies=protected)
    app.include_router(workflows.router, dependencies=protected)
    app.include_router(executions.router, dependencies=protected)
    app.include_router(packages.router, dependencies=protected)
    app.include_router(ws.router)

    install_error_handlers(app)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app
