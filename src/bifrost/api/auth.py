"""Bearer-token authentication for every endpoint but health."""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bifrost.store.tokens import TokenChecker

_bearer = HTTPBearer(auto_error=False)


async def require_token(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> str:
    if credentials is None:
        raise HTTPException(
            401,
            "missing token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    checker: TokenChecker = request.app.state.tokens
    owner = await checker.owner(credentials.credentials)
    if owner is None:
        raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})
    return owner
