"""The FastAPI application: routers, error handler, static page. The lifespan (which opens the
context and starts the process's roles) is given by the caller, bifrost.roles.api."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse

from bifrost.api.auth import require_token
from bifrost.api.routes import executions, files, health, jobs, packages, workflows, ws
from bifrost.errors import UserError

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent.parent / "web" / "static"

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(lifespan: Lifespan) -> FastAPI:
    """``lifespan`` must set ``app.state.services`` (api.deps.Services) and ``app.state.tokens``."""
    app = FastAPI(title="Bifrost", version="0.1.0", lifespan=lifespan)
    protected = [Depends(require_token)]
    app.include_router(health.router)
    app.include_router(files.router, dependencies=protected)
    app.include_router(workflows.router, dependencies=protected)
    app.include_router(executions.router, dependencies=protected)
    app.include_router(packages.router, dependencies=protected)
    app.include_router(jobs.router, dependencies=protected)
    app.include_router(ws.router)

    @app.exception_handler(UserError)
    async def user_error(_request: Request, exc: UserError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app
