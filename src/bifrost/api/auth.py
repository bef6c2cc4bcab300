"""Bearer-token authentication for every endpoint but health.

The check itself runs in :class:`~bifrost.api.guard.RequestGuard`, before any body is read; this
dependency hands the token's owner to the routes and declares the scheme in the OpenAPI document.
"""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

_bearer = HTTPBearer(auto_error=False)


async def require_token(
    request: Request, _credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> str:
    """The name of the token that made the request (recorded as who made a change)."""
    owner = getattr(request.state, "token_owner", None)
    if owner is None:  # fail closed if a route is ever reached without the guard
        raise HTTPException(401, "missing or invalid token", headers={"WWW-Authenticate": "Bearer"})
    return owner
