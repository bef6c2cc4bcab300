"""The API role, and the app of the HTTP processes (``bifrost up``, ``bifrost api``).

The API role gives the routes what they use (api.deps.Services): the context's store, cache,
events and files, plus the enqueue sides of the execution and job queues (and the process's own
worker, when it hosts one, for runs the API waits on). An HTTP process opens
one context and one transport in uvicorn's lifespan and starts its roles on them, so embedded
mode's in-process queues connect the API to the worker and the scheduler of the same process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI

from bifrost.api.app import create_app
from bifrost.api.deps import Services
from bifrost.api.tickets import LocalTickets, RedisTickets
from bifrost.context import Context
from bifrost.github.connection import GitHubService
from bifrost.jobs.runner import Jobs
from bifrost.roles.process import RoleName, freeze_startup_objects, running
from bifrost.roles.shared import Transport, package_service, protect_process
from bifrost.secrets import load_box
from bifrost.settings import Settings
from bifrost.store.tokens import TokenChecker
from bifrost.worker.dispatch import QueueDispatcher, StartsHere

log = logging.getLogger(__name__)


class ApiRole:
    """``here`` is the worker of the same process, if it hosts one (``bifrost up``)."""

    def __init__(self, ctx: Context, transport: Transport, here: StartsHere | None = None) -> None:
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
            dispatcher=QueueDispatcher(transport.executions, here),
            jobs=Jobs(ctx.db, ctx.events, transport.jobs),
            packages=package_service(ctx, transport),
            secrets=box,
            github=GitHubService(ctx.settings, ctx.db, box),
            live_workers=transport.workers.live,
            tickets=(
                LocalTickets()
                if ctx.redis is None
                else RedisTickets(ctx.redis, ctx.settings.cache_prefix)
            ),
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
