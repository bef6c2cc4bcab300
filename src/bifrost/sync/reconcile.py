"""The ``modules``, ``requirements`` and ``objects`` targets: the caches and the object store
checked against the database, which is the truth (the caches are repaired; a missing or corrupt
object can only be reported, for an operator to restore)."""

from __future__ import annotations

from typing import Any

from bifrost.context import Context
from bifrost.store.integrity import check_objects


async def modules(ctx: Context, *, repair: bool = True) -> dict[str, Any]:
    return dict(await ctx.cache.reconcile_modules(repair=repair))


async def requirements(ctx: Context, *, repair: bool = True) -> dict[str, Any]:
    return dict(await ctx.cache.reconcile_requirements(repair=repair))


async def objects(ctx: Context) -> dict[str, Any]:
    found = await check_objects(ctx.db, ctx.objects)
    return {**found.as_dict(), "store": ctx.objects.describe()}


def problem(target: str, result: dict[str, Any]) -> str | None:
    """What the status shows as the run's error: objects missing or corrupt (which a repair
    cannot fix); None when the target is sound (differences the run repaired are no error)."""
    if target != "objects":
        return None
    missing, corrupt = result["missing"], result["corrupt"]
    if not missing and not corrupt:
        return None
    named = ", ".join(item["path"] for item in [*missing, *corrupt][:5])
    return (
        f"{len(missing)} objects missing and {len(corrupt)} corrupt in {result['store']} "
        f"({named}); restore them from a backup or write the files again"
    )
