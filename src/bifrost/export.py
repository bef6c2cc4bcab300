"""`bifrost export DIR`: the workspace written out as plain files, for the rollback path."""

from __future__ import annotations

import os
from pathlib import Path

from bifrost.context import open_context
from bifrost.roles.shared import protect_process
from bifrost.settings import Settings


async def export_workspace(settings: Settings, directory: Path) -> int:
    """Write every live file under ``directory``; files are replaced atomically one by one."""
    protect_process()
    async with open_context(settings) as ctx:
        count = 0
        for row in await ctx.files.list():
            _, content = await ctx.files.read(row.path)
            target = directory / row.path
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_bytes(content)
            os.replace(tmp, target)
            count += 1
        return count
