"""`/api/health`: no token needed; says which database, cache and workers this process sees.

Without a token it shows no internals (worker host:pid, exception text, installer output); with
one the same fields come back, and the details are filled in: the shape never changes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from bifrost.api.deps import Services, services
from bifrost.api.guard import bearer_token
from bifrost.api.schemas import ComponentHealth, Health, WorkerHealth, WorkerPackages
from bifrost.store.files import workspace_generation

router = APIRouter(tags=["health"])


def _worker(worker: dict[str, Any], details: bool) -> WorkerHealth:
    report = worker.get("packages") or {}
    failed = report.get("failed") or {}
    return WorkerHealth(
        id=worker.get("id") if details else None,
        concurrency=worker.get("concurrency"),
        seen_at=worker.get("seen_at"),
        packages=WorkerPackages(
            requirements=len(report.get("requirements") or []),
            failed=sorted(failed),
            error=bool(report.get("error")),
            messages=dict(failed) if details else None,
            error_message=report.get("error") if details else None,
        ),
    )


def _component(report: dict[str, Any], details: bool) -> ComponentHealth:
    return ComponentHealth(**{**report, "message": report.get("message") if details else None})


async def _authorized(request: Request) -> bool:
    token = bearer_token(request.headers.get("authorization"))
    return token is not None and await request.app.state.tokens.is_valid(token)


@router.get("/api/health", response_model=Health)
async def health(request: Request, svc: Services = Depends(services)) -> Health:
    """No token needed; with one, the details: worker ids, failures' messages."""
    details = await _authorized(request)
    database: dict[str, Any] = {"kind": svc.db.url.get_backend_name()}
    try:
        database["generation"] = await workspace_generation(svc.db)
        database["ok"] = True
    except Exception as exc:  # boundary: health reports every failure, it never fails itself
        database.update(ok=False, error=type(exc).__name__, message=str(exc))
    cache = await svc.cache.health()
    try:
        workers = await svc.live_workers()
    except Exception as exc:  # boundary: health reports every failure, it never fails itself
        workers = []
        cache.setdefault("error", type(exc).__name__)
        cache.setdefault("message", str(exc))
    ok = bool(database["ok"] and cache.get("ok") and workers)
    return Health(
        status="ok" if ok else "degraded",
        mode="embedded" if svc.settings.embedded else "distributed",
        database=_component(database, details),
        cache=_component(cache, details),
        workers=[_worker(worker, details) for worker in workers],
    )
