"""`bifrost objects gc`: remove the objects no workspace row references.

A server-side command like `bifrost init`: it reads the database and the object store directly
(their code is imported inside the command), so it runs where the server's settings are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bifrost.cli.server import err, server_settings

if TYPE_CHECKING:
    from bifrost.settings import Settings
    from bifrost.store.gc import Collection


@click.group("objects")
def app() -> None:
    """The object store of binary and large files (local directory or S3)."""


@app.command()
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option(
    "--grace-hours",
    type=click.FloatRange(min=0),
    default=24.0,
    show_default=True,
    help="Keep objects younger than this: a write in flight may be about to reference them.",
)
def gc(dry_run: bool, grace_hours: float) -> None:
    """Remove objects that no file references, live or deleted, older than the grace period."""
    import asyncio

    from bifrost.errors import BifrostError

    settings = server_settings()
    try:
        found = asyncio.run(_collect(settings, grace_hours * 3600, dry_run))
    except BifrostError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise SystemExit(1) from None
    verb = "would remove" if dry_run else "removed"
    for item in found.removed:
        click.echo(f"{verb} {item.sha256} ({item.size:,} bytes)")
    click.echo(
        f"{found.scanned} objects: {found.referenced} referenced, {found.young} younger than "
        f"{grace_hours:g} h; {verb} {len(found.removed)} ({found.removed_bytes:,} bytes)"
    )


async def _collect(settings: Settings, grace_s: float, dry_run: bool) -> Collection:
    from bifrost.store.db import Database
    from bifrost.store.gc import collect
    from bifrost.store.objects import object_store

    db = Database(settings)
    try:
        return await collect(db, object_store(settings), grace_s=grace_s, dry_run=dry_run)
    finally:
        await db.close()
