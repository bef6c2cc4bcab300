"""The API role, and the HTTP processes (``bifrost up``, ``bifrost api``) that host roles.

The API role gives the routes what they use (api.deps.Services): the context's store, cache,
events and files, plus the enqueue sides of the execution and job queues. An HTTP process opens
one context and one transport in uvicorn's lifespan and starts its roles on them, so embedded
mode's in-process queues connect the API to the worker and the scheduler of the same process.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Literal, Protocol

from fastapi import FastAPI

from bifrost.api.app import create_app
from bifrost.api.deps import Services
from bifrost.context import Context, open_context
from bifrost.github.connection import GitHubService
from bifrost.jobs.runner import Jobs
from bifrost.roles.scheduler import SchedulerRole
from bifrost.roles.shared import Transport, open_transport, package_service, protect_process
from bifrost.roles.worker import WorkerRole
from bifrost.secrets import load_box
from bifrost.settings import Settings
from bifrost.store.tokens import TokenChecker
from bifrost.worker.dispatch import QueueDispatcher

log = logging.getLogger(__name__)

RoleName = Literal["api", "worker", "scheduler"]
ALL_ROLES: tuple[RoleName, ...] = ("worker", "scheduler", "api")  # start order


class Role(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class ApiRole:
    def __init__(self, ctx: Context, transport: Transport) -> None:
        self.ctx = ctx
        self.transport = transport
        configured = ctx.settings.admin_token
        self.tokens = TokenChecker(ctx.db, configured.get_secret_value() if configured else None)
        box = load_box(ctx.settings)
        self.services = Services(
            settings=ctx.settings,
            db=ctx.db,
            cache=ctx.cache,
            files=ctx.files,
            events=ctx.events,
            dispatcher=QueueDispatcher(transport.executions),
            jobs=Jobs(ctx.db, ctx.events, transport.jobs),
            packages=package_service(ctx, transport),
            secrets=box,
            github=GitHubService(ctx.settings, ctx.db, box),
            live_workers=transport.workers.live,
        )

    async def start(self) -> None:
        protect_process()
        if not self.ctx.settings.embedded and self.ctx.settings.secret_key is None:
            log.warning(
                "BIFROST_SECRET_KEY is not set: the GitHub token is sealed with this machine's "
                "own key (%s); set the same BIFROST_SECRET_KEY on every API and scheduler "
                "machine, or the others cannot open it",
                self.ctx.settings.secret_key_file,
            )

    async def stop(self) -> None:
        return None


def freeze_startup_objects() -> None:
    """Move everything alive after start-up (modules, the app, SQLAlchemy's and pydantic's
    tables: about 140,000 objects) out of the garbage collector's reach. A full collection walks
    every tracked object, tens of milliseconds in a started server, and lands on whichever request
    happens to allocate at that moment; frozen, it walks only what was made since."""
    gc.collect()
    gc.freeze()


def build_role(name: RoleName, ctx: Context, transport: Transport) -> Role:
    if name == "api":
        return ApiRole(ctx, transport)
    if name == "worker":
        return WorkerRole(ctx, transport)
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
            role = build_role(name, ctx, transport)
            await role.start()
            stack.push_async_callback(role.stop)
            roles.append(role)
        yield roles


def http_app(settings: Settings, names: Sequence[RoleName]) -> FastAPI:
    """The app of an HTTP process running ``names`` (which must include "api")."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(settings, names) as roles:
            api = next(role for role in roles if isinstance(role, ApiRole))
            app.state.services = api.services
            app.state.tokens = api.tokens
            freeze_startup_objects()
            yield

    return create_app(settings, lifespan)


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
