"""`bifrost export DIR`: the workspace written out as plain files, for the rollback path."""

from __future__ import annotations

import os
from pathlib import Path

from bifrost.services import open_services
from bifrost.settings import Settings


async def export_workspace(settings: Settings, directory: Path) -> int:
    """Write every live file under ``directory``; files are replaced atomically one by one."""
    services = await open_services(settings, with_worker=False)
    try:
        count = 0
        for row in await services.files.list():
            _, content = await services.files.read(row.path)
            target = directory / row.path
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_bytes(content)
            os.replace(tmp, target)
            count += 1
        return count
    finally:
        await services.close()
