"""Domain errors to HTTP answers: the one place that knows which status each error class gets.

Every error body has one shape, ``{"detail": "<message>"}``, as FastAPI's own ``HTTPException``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bifrost.errors import (
    BifrostError,
    Conflict,
    Inconsistent,
    InvalidInput,
    NotFound,
    TooLarge,
    Unavailable,
)

STATUS: dict[type[BifrostError], int] = {
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    InvalidInput: 422,
    Unavailable: 503,
    Inconsistent: 500,
}


def status_of(exc: BifrostError) -> int:
    """The status of the most specific class in ``exc``'s ancestry that has one."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BifrostError)
    return JSONResponse({"detail": exc.message}, status_code=status_of(exc))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(BifrostError, _domain_error)
