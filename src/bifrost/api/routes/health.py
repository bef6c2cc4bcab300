"""`/api/health`: no token needed; says which database, cache and workers this process sees."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from bifrost.api.deps import Services, services
from bifrost.store.models import Workspace

router = APIRouter(tags=["health"])


def _summary(worker: dict[str, Any]) -> dict[str, Any]:
    """What anyone may see of a worker; installer output and errors need a token."""
    packages = worker.get("packages") or {}
    return {
        "id": worker.get("id"),
        "concurrency": worker.get("concurrency"),
        "seen_at": worker.get("seen_at"),
        "packages": {
            "requirements": len(packages.get("requirements") or []),
            "failed": sorted(packages.get("failed") or {}),
            "error": bool(packages.get("error")),
        },
    }


async def _authorized(request: Request) -> bool:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    return bool(token) and await request.app.state.tokens.is_valid(token)


@router.get("/api/health")
async def health(request: Request, svc: Services = Depends(services)) -> dict:
    """No token needed; with one, workers' package reports come with the installer's messages."""
    database: dict[str, object] = {"kind": svc.db.url.get_backend_name()}
    try:
        async with svc.db.read() as session:
            database["generation"] = await session.scalar(select(Workspace.generation))
        database["ok"] = True
    except Exception as exc:  # report, never fail the health call itself
        database.update(ok=False, error=type(exc).__name__)
    cache = await svc.cache.health()
    try:
        workers = await svc.live_workers()
    except Exception as exc:
        workers = []
        cache.setdefault("error", type(exc).__name__)
    if not await _authorized(request):
        workers = [_summary(worker) for worker in workers]
    ok = bool(database["ok"] and cache.get("ok") and workers)
    return {
        "status": "ok" if ok else "degraded",
        "mode": "embedded" if svc.settings.embedded else "distributed",
        "database": database,
        "cache": cache,
        "workers": workers,
    }
