"""`/api/health`: no token needed; says which database, cache and workers this process sees."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from bifrost.api.deps import services
from bifrost.services import Services
from bifrost.store.files import workspace_generation
from bifrost.worker.heartbeat import live_workers

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
        database["generation"] = await workspace_generation(svc.db)
        database["ok"] = True
    except Exception as exc:  # boundary: health reports every failure, it never fails itself
        database.update(ok=False, error=type(exc).__name__)
    cache = await svc.cache.health()
    try:
        workers = await live_workers(svc)
    except Exception as exc:  # boundary: health reports every failure, it never fails itself
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
