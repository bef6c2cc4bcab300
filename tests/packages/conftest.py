"""Fixtures for package tests: a local wheelhouse built at test time, and settings that use it.

Every install runs with ``--no-index --find-links <wheelhouse>``: no test ever needs the network.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from bifrost.api.deps import Services
from bifrost.cache.base import ModuleCache
from bifrost.context import Context, open_context
from bifrost.events import EventBus
from bifrost.packages.service import PackageService
from bifrost.roles.api import ApiRole
from bifrost.roles.scheduler import SchedulerRole
from bifrost.roles.shared import Transport, open_transport
from bifrost.roles.worker import WorkerRole
from bifrost.runtime.protocol import ExecutionOutcome, ExecutionRequest
from bifrost.settings import Settings
from bifrost.store.files import Files
from tests.conftest import Backend
from tests.packages.wheels import broken_sdist, wheel


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bft-alpha depends on bft-beta; bft-gamma has an extra; bft-broken cannot be built."""
    directory = tmp_path_factory.mktemp("wheelhouse")
    wheel(directory, "bft-alpha", "1.0", requires=["bft-beta>=1"])
    wheel(directory, "bft-beta", "1.0")
    wheel(directory, "bft-beta", "2.0")
    wheel(
        directory,
        "bft-gamma",
        "1.2.0",
        extras=["fast"],
        requires=['bft-delta; extra == "fast"'],
    )
    wheel(directory, "bft-delta", "0.5")
    wheel(directory, "bft-epsilon", "3.0")
    for index in range(10):
        wheel(directory, f"bft-bench{index}", "1.0")
    broken_sdist(directory, "bft-broken", "1.0")
    directory.chmod(0o755)  # builds run as an unprivileged uid: the index must be readable
    return directory


@pytest.fixture(autouse=True, scope="session")
def _hermetic_installers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No machine-wide pip/uv configuration and a private uv cache for this test session."""
    saved = dict(os.environ)
    os.environ["PIP_CONFIG_FILE"] = os.devnull
    os.environ.pop("PIP_FIND_LINKS", None)
    os.environ["UV_CACHE_DIR"] = str(tmp_path_factory.mktemp("uv-cache"))
    os.environ["UV_NO_CONFIG"] = "1"
    yield
    os.environ.clear()
    os.environ.update(saved)


def index_args(wheelhouse: Path) -> str:
    return f"--no-index --find-links {wheelhouse}"


def with_wheelhouse(settings: Settings, wheelhouse: Path, **extra: object) -> Settings:
    return settings.model_copy(update={"package_index_args": index_args(wheelhouse), **extra})


@pytest.fixture
def pkg_backend(backend: Backend, wheelhouse: Path) -> Backend:
    """``backend`` whose settings and environment install from the local wheelhouse."""
    settings = with_wheelhouse(backend.settings, wheelhouse, package_recycle_wait_s=30.0)
    env = {**backend.env, "BIFROST_PACKAGE_INDEX_ARGS": index_args(wheelhouse)}
    return Backend(backend.name, settings, env)


class FakeExecutor:
    """Counts recycles; for tests about the flow, not about the execution processes."""

    def __init__(self) -> None:
        self.recycles = 0

    async def start(self) -> None:
        return None

    async def run(self, request: ExecutionRequest) -> ExecutionOutcome:
        raise AssertionError("package tests run no execution on the counting executor")

    def has_free_slot(self) -> bool:
        return True

    async def free_slot(self) -> None:
        return None

    async def recycle(self) -> None:
        self.recycles += 1

    async def stop(self) -> None:
        return None


@dataclass
class Node:
    """One process's roles, wired by bifrost.roles: a worker, a scheduler and the API's
    services (``packages``, ``jobs``), on one context."""

    ctx: Context
    transport: Transport
    worker: WorkerRole
    scheduler: SchedulerRole
    api: Services

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def files(self) -> Files:
        return self.ctx.files

    @property
    def events(self) -> EventBus:
        return self.ctx.events

    @property
    def cache(self) -> ModuleCache:
        return self.ctx.cache

    @property
    def redis(self) -> aioredis.Redis | None:
        return self.ctx.redis

    @property
    def executor(self) -> Any:
        return self.worker.executor

    @property
    def packages(self) -> PackageService:
        return self.api.packages

    async def close(self) -> None:
        await self.scheduler.stop()
        await self.worker.stop()
        await self.transport.close()
        await self.ctx.close()


async def open_worker(
    settings: Settings, *, real_executor: bool = False, worker_id: str = "w1"
) -> tuple[Node, dict[str, Any]]:
    """A node started by the real roles (only the executor may be the counting one). Returns
    it and the worker's start report on its packages."""
    ctx = open_context(settings)
    transport = open_transport(ctx)
    executor = None if real_executor else FakeExecutor()
    worker = WorkerRole(ctx, transport, worker_id=worker_id, executor=executor)
    scheduler = SchedulerRole(ctx, transport, scheduler_id=f"{worker_id}-scheduler")
    await worker.start()
    await scheduler.start()
    node = Node(ctx, transport, worker, scheduler, ApiRole(ctx, transport).services)
    assert worker.heartbeat is not None
    return node, worker.heartbeat.info["packages"]
