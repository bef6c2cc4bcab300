"""The sync status as every process reads it: the table's rows, shaped per target.

``lag_s`` is worked out at the moment of reading: seconds since the target last ran without an
error (null: never). The breaker's state comes from its failure count and retry time:
``closed`` (under the threshold), ``open`` (paused until ``retry_at``) or ``half_open`` (the
pause is over: the next run is the trial that closes or reopens it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bifrost.names import SYNC_TARGETS
from bifrost.settings import Settings
from bifrost.store import sync_state
from bifrost.store.db import Database
from bifrost.store.models import SyncState, utcnow


def _iso(moment: datetime | None) -> str | None:
    moment = sync_state.aware(moment)
    return None if moment is None else moment.isoformat()


def breaker_state(row: SyncState | None, threshold: int, now: datetime) -> str:
    failures = 0 if row is None else row.breaker_failures or 0
    if failures < threshold:
        return "closed"
    retry_at = sync_state.aware(row.breaker_retry_at) if row else None
    return "open" if retry_at is not None and retry_at > now else "half_open"


def shaped(row: SyncState | None, settings: Settings, now: datetime) -> dict[str, Any]:
    success = sync_state.aware(row.last_success_at) if row else None
    return {
        "last_run_at": _iso(row.last_run_at) if row else None,
        "last_result": row.last_result if row else None,
        "last_error": row.last_error if row else None,
        "next_run_at": _iso(row.next_run_at) if row else None,
        "lag_s": None if success is None else round((now - success).total_seconds(), 3),
        "pending": list(row.pending or []) if row else [],
        "breaker": {
            "state": breaker_state(row, settings.sync_breaker_failures, now),
            "failures": row.breaker_failures or 0 if row else 0,
            "retry_at": _iso(row.breaker_retry_at) if row else None,
        },
    }


async def read_status(db: Database, settings: Settings) -> dict[str, dict[str, Any]]:
    """Every target, in priority order."""
    rows = await sync_state.read_all(db)
    now = utcnow()
    return {target: shaped(rows.get(target), settings, now) for target in SYNC_TARGETS}
