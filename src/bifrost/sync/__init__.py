"""One entry point for every kind of sync, and one status::

    from bifrost.sync import sync, sync_status
    await sync("all")                           # github, modules, requirements, objects
    await sync("github", confirm_orphans=False)
    await sync("modules")                       # cache <-> database, by hash
    await sync_status()

Each call stands alone: it opens what it needs from the settings (``BIFROST_*``), or uses the
``context`` given (``bifrost.context.open_context``), and closes what it opened. Nothing to
initialise or shut down, no object kept between calls. ``sync`` waits for the result and
returns it; ``github`` runs as a recorded job (``GET /api/jobs/{id}``) in this process. The
targets, their options and the order of ``all`` are in :mod:`bifrost.sync.targets`; the status'
shape in :mod:`bifrost.sync.status`; the daemon of ``bifrost scheduler`` in
:mod:`bifrost.sync.daemon`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bifrost.context import Context, open_context
from bifrost.settings import Settings, get_settings
from bifrost.sync.run import run_target, runner_id
from bifrost.sync.status import read_status
from bifrost.sync.targets import check

__all__ = ["sync", "sync_status"]


@asynccontextmanager
async def _context(context: Context | None, settings: Settings | None) -> AsyncIterator[Context]:
    if context is not None:
        yield context
        return
    async with open_context(settings or get_settings()) as ctx:
        yield ctx


async def sync(
    target: str,
    /,
    *,
    context: Context | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Run ``target`` (``github``, ``modules``, ``requirements``, ``objects`` or ``all``) and
    return its result. InvalidInput for an unknown target or option (the message lists the valid
    ones), Conflict for ``github`` when the workspace is not connected (``all`` skips it)."""
    checked = check(target, options)
    async with _context(context, settings) as ctx:
        return await run_target(ctx, target, checked, runner=runner_id(), announce=True)


async def sync_status(
    *, context: Context | None = None, settings: Settings | None = None
) -> dict[str, dict[str, Any]]:
    """Per target: ``last_run_at``, ``last_result``, ``last_error``, ``next_run_at``, ``lag_s``,
    ``pending`` and ``breaker`` (``state``, ``failures``, ``retry_at``), as every process sees
    them."""
    async with _context(context, settings) as ctx:
        return await read_status(ctx.db, ctx.settings)
