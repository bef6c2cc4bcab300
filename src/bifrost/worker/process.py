"""`bifrost worker`: a process that only runs executions from the queue."""

from __future__ import annotations

import asyncio
import logging
import signal

from bifrost.services import open_services
from bifrost.settings import Settings

log = logging.getLogger(__name__)


async def run_worker(settings: Settings) -> None:
    services = await open_services(settings, with_worker=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log.info("worker %s ready", services.heartbeat.info["id"] if services.heartbeat else "?")
    try:
        await stop.wait()
    finally:
        log.info("worker stopping")
        await services.close()
