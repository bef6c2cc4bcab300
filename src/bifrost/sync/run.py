"""Running one target, or all of them in priority order, on an open context.

Each run leaves its outcome in the sync status (the ``github`` target through its job's handler,
the others here). ``all`` never stops at a failed or skipped target: its result lists every
target, in :data:`bifrost.names.SYNC_TARGETS` order, with ``status`` ``ok``, ``skipped`` (with
the ``reason``) or ``failed`` (with the ``error``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from bifrost import errors
from bifrost.context import Context
from bifrost.jobs import progress as events
from bifrost.names import SYNC_ALL, SYNC_TARGETS
from bifrost.secrets import scrub
from bifrost.store import sync_state
from bifrost.sync import github, reconcile
from bifrost.sync.targets import check

Report = Callable[[dict[str, Any]], Awaitable[None]]


async def _quiet(event: dict[str, Any]) -> None:
    return None


def runner_id() -> str:
    """Who runs the jobs a script's ``sync()`` starts (the jobs' ``runner`` column)."""
    return f"sync:{socket.gethostname()}:{os.getpid()}"


async def run_target(
    ctx: Context,
    target: str,
    options: dict[str, Any],
    *,
    runner: str,
    user: str | None = None,
    announce: bool = False,
    report: Report = _quiet,
) -> dict[str, Any]:
    """One target's result (``all``: every target's); its error raised for a single target."""
    options = check(target, options)
    if target == SYNC_ALL:
        return await _all(ctx, runner=runner, user=user, announce=announce, report=report)
    if target == github.TARGET:
        return await github.run_here(
            ctx, {**options, "auto": False}, runner_id=runner, user=user, announce=announce
        )
    try:
        if target == "objects":
            result = await reconcile.objects(ctx)
        elif target == "modules":
            result = await reconcile.modules(ctx, repair=options["repair"])
        else:
            result = await reconcile.requirements(ctx, repair=options["repair"])
    except Exception as exc:
        message = exc.message if isinstance(exc, errors.BifrostError) else repr(exc)
        await sync_state.record_run(ctx.db, target, result=None, error=scrub(message))
        raise
    await sync_state.record_run(
        ctx.db, target, result=result, error=reconcile.problem(target, result)
    )
    await report(events.output(f"{target}: {_summary(result)}"))
    return result


def _summary(result: dict[str, Any]) -> str:
    return ", ".join(
        f"{key} {len(value) if isinstance(value, list) else value}"
        for key, value in result.items()
        if isinstance(value, int | list)
    )


async def _all(
    ctx: Context, *, runner: str, user: str | None, announce: bool, report: Report
) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    for current, target in enumerate(SYNC_TARGETS, start=1):
        await report(events.progress("syncing", current, len(SYNC_TARGETS), path=target))
        if target == github.TARGET:
            reason = await github.not_connected(ctx.db)
            if reason is not None:
                entries.append({"target": target, "status": "skipped", "reason": reason})
                await report(events.output(f"{target}: skipped ({reason})"))
                continue
        try:
            result = await run_target(
                ctx, target, {}, runner=runner, user=user, announce=announce, report=report
            )
        except errors.BifrostError as exc:
            entries.append({"target": target, "status": "failed", "error": exc.message})
            await report(events.output(f"{target}: failed ({exc.message})"))
            continue
        entries.append({"target": target, "status": "ok", "result": result})
    return {"target": SYNC_ALL, "results": entries}
