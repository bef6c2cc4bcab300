"""`bifrost init`: migrate the database, make sure an admin token exists, warm the cache.

Run before API and worker processes start (the init container of a deployment); safe to repeat.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from bifrost.context import open_context
from bifrost.roles.shared import protect_process
from bifrost.settings import Settings
from bifrost.store import migrate
from bifrost.store.tokens import ensure_admin_token


@dataclass
class InitReport:
    generation: int
    new_admin_token: str | None
    token_file: Path | None


def token_file(settings: Settings) -> Path:
    return settings.token_file


def save_token(path: Path, token: str) -> None:
    """Readable by this user only: the CLI on this machine picks it up from here."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")


def secure_data_dir(settings: Settings) -> None:
    """Only this account may enter the data directory (database, WAL and SHM, objects, admin
    token). Executions never need to: their view hides it and binds the package directory back.

    The database files get 0600, not 000: SQLite gives a new ``-wal`` and ``-shm`` the database
    file's mode, except for mode 0, where they get 0644 (readable by everyone)."""
    data = settings.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    if settings.object_store is None:  # the local object store; S3 needs no directory here
        objects = data / "objects"
        objects.mkdir(exist_ok=True)
        objects.chmod(0o700)
    for path in [*data.glob("bifrost.db*"), token_file(settings)]:
        if path.exists():
            path.chmod(0o600)


async def initialize(settings: Settings) -> InitReport:
    await asyncio.to_thread(migrate.upgrade, settings)
    secure_data_dir(settings)
    protect_process()  # it reads the credentials, and writes the admin token
    async with open_context(settings) as ctx:
        configured = settings.admin_token.get_secret_value() if settings.admin_token else None
        token = await ensure_admin_token(ctx.db, configured)
        path = None
        if token is not None:
            path = token_file(settings)
            save_token(path, token)
            secure_data_dir(settings)
        await ctx.files.reindex()  # files older than the entity index
        generation = await ctx.cache.warm()
    return InitReport(generation, token, path)
