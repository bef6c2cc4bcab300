"""`/api/health`: no token needed; says which database, cache and workers this process sees."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import select

from bifrost.api.deps import services
from bifrost.services import Services
from bifrost.store.models import Workspace
from bifrost.worker.heartbeat import live_workers

router = APIRouter(tags=["health"])


@router.get("/api/health")
async def health(svc: Services = Depends(services)) -> dict:
    database: dict[str, object] = {"kind": svc.db.url.get_backend_name()}
    try:
        async with svc.db.read() as session:
            database["generation"] = await session.scalar(select(Workspace.generation))
        database["ok"] = True
    except Exception as exc:  # report, never fail the health call itself
        database.update(ok=False, error=type(exc).__name__)
    cache = await svc.cache.health()
    try:
        workers = await live_workers(svc)
    except Exception as exc:
        workers = []
        cache.setdefault("error", type(exc).__name__)
    ok = bool(database["ok"] and cache.get("ok") and workers)
    return {
        "status": "ok" if ok else "degraded",
        "mode": "embedded" if svc.settings.embedded else "distributed",
        "database": database,
        "cache": cache,
        "workers": workers,
    }
