"""A process that hosts roles: open the context and transport, start the roles, stop them.

``bifrost up`` and ``bifrost api`` host roles inside uvicorn's lifespan (``roles.api``);
``bifrost worker`` and ``bifrost scheduler`` host theirs headless, here. Each role's module is
imported only by a process that runs it, so a worker never loads FastAPI and the routes, nor
the GitHub sync, and starts as fast as it did before roles existed.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Literal, Protocol

from bifrost.context import Context, open_context
from bifrost.roles.shared import Transport, open_transport
from bifrost.settings import Settings

log = logging.getLogger(__name__)

RoleName = Literal["api", "worker", "scheduler"]
ALL_ROLES: tuple[RoleName, ...] = ("worker", "scheduler", "api")  # start order


class Role(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def freeze_startup_objects() -> None:
    """Move everything alive after start-up (modules, the app, SQLAlchemy's and pydantic's
    tables: about 140,000 objects in `bifrost up`) out of the garbage collector's reach. A full
    collection walks every tracked object, tens of milliseconds in a started server, and lands on
    whichever request happens to allocate at that moment; frozen, it walks only what was made
    since."""
    gc.collect()
    gc.freeze()


def build_role(
    name: RoleName, ctx: Context, transport: Transport, started: Sequence[Role] = ()
) -> Role:
    """The role ``name``, its module imported here (see the module docstring for why). The API
    is given the runner of a worker ``started`` in the same process."""
    if name == "api":
        from bifrost.roles.api import ApiRole

        here = next((r.runner for r in started if getattr(r, "runner", None) is not None), None)
        return ApiRole(ctx, transport, here)
    if name == "worker":
        from bifrost.roles.worker import WorkerRole

        return WorkerRole(ctx, transport)
    from bifrost.roles.scheduler import SchedulerRole

    return SchedulerRole(ctx, transport)


@asynccontextmanager
async def running(settings: Settings, names: Sequence[RoleName]) -> AsyncIterator[list[Role]]:
    """Open the context and transport, start the roles in ``ALL_ROLES`` order, stop them in
    reverse (the API stops taking requests before the worker drains)."""
    async with AsyncExitStack() as stack:
        ctx = open_context(settings)
        stack.push_async_callback(ctx.close)
        transport = open_transport(ctx)
        stack.push_async_callback(transport.close)
        roles = []
        for name in (n for n in ALL_ROLES if n in names):
            role = build_role(name, ctx, transport, roles)
            await role.start()
            stack.push_async_callback(role.stop)
            roles.append(role)
        yield roles


async def run_headless(settings: Settings, names: Sequence[RoleName]) -> None:
    """``bifrost worker`` and ``bifrost scheduler``: run the roles until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running(settings, names) as roles:
        freeze_startup_objects()
        log.info("%s ready", ", ".join(type(role).__name__ for role in roles))
        await stop.wait()
        log.info("stopping")
