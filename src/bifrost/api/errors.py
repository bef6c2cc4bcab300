"""Domain errors to HTTP answers: the one place that knows which status each error class gets,
and where the OpenAPI document learns them.

Every error the API sends has one body shape, ``{"detail": "<message>"}``
(:class:`~bifrost.api.schemas.ErrorBody`): domain errors (:class:`~bifrost.errors.BifrostError`,
by the table below), request validation (turned into one readable sentence), Starlette's own
404/405 and the guard's 401/413/422.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from bifrost.api.schemas import ErrorBody
from bifrost.errors import (
    BifrostError,
    Conflict,
    Inconsistent,
    InvalidInput,
    NotFound,
    TooLarge,
    Unavailable,
)
from bifrost.secrets import scrub

log = logging.getLogger(__name__)

STATUS: dict[type[BifrostError], int] = {
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    InvalidInput: 422,
    Unavailable: 503,
    Inconsistent: 500,
}

DESCRIPTIONS = {
    400: "The request is malformed",
    401: "Missing or invalid token",
    404: "Not found",
    409: "Conflicts with the current state (changed since read, collides with another path)",
    413: "The request body is over its limit",
    422: "Invalid input; the message says what to fix",
    503: "A back end (database, Redis, worker) is unavailable",
}


def status_of(exc: BifrostError) -> int:
    """The status of the most specific class in ``exc``'s ancestry that has one."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: each status with the one error body shape."""
    return {
        status: {"model": ErrorBody, "description": DESCRIPTIONS[status]} for status in statuses
    }


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "request"


def validation_message(exc: RequestValidationError) -> str:
    """FastAPI's list of problems as one sentence: where, and what is wrong (never the input)."""
    return "; ".join(
        f"{_location(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()
    )


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route offers at this URL (one route per method in FastAPI)."""
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches({**request.scope, "method": ""})
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def install(app: FastAPI) -> None:
    @app.exception_handler(BifrostError)
    async def domain_error(_request: Request, exc: BifrostError) -> JSONResponse:
        return error(status_of(exc), scrub(exc.message))  # no secret leaves, whoever raised

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette names only the first route's methods
            headers["Allow"] = ", ".join(allowed_methods(app, request))
        if exc.status_code in (204, 304):
            return Response(status_code=exc.status_code, headers=headers)
        return error(exc.status_code, str(exc.detail), headers)

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, _exc: ClientDisconnect) -> Response:
        """The client left mid-upload: nothing was written and nobody reads the answer."""
        log.info("client disconnected during %s %s", request.method, request.url.path)
        return Response(status_code=400)
