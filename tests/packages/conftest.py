"""Fixtures for package tests: a local wheelhouse built at test time, and settings that use it.

Every install runs with ``--no-index --find-links <wheelhouse>``: no test ever needs the network.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bifrost.settings import Settings
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

    async def recycle(self) -> None:
        self.recycles += 1

    async def stop(self) -> None:
        return None


async def open_worker(settings: Settings, *, real_executor: bool = False, worker_id: str = "w1"):
    """Services wired as `open_services` + `start_worker` wire packages: the Files listener,
    prepare_worker before the executor starts, then the watcher task. Returns the services and
    the start report. Works before and after that wiring lands in bifrost.services."""
    import asyncio
    import inspect

    from bifrost.packages.service import prepare_worker, requirements_listener, watch_requirements
    from bifrost.services import open_services, start_worker
    from bifrost.worker.heartbeat import Heartbeat
    from tests.conftest import wait_until

    services = await open_services(settings, with_worker=False)
    listeners = [getattr(f, "__qualname__", "") for f in services.files.listeners]
    if not any(name.startswith("requirements_listener") for name in listeners):
        services.files.listeners.append(requirements_listener(services))
    if real_executor and "watch_requirements" in inspect.getsource(start_worker):
        await start_worker(services)
        info = services.heartbeat.info

        async def reported() -> bool:
            return "packages" in info

        await wait_until(reported)
        return services, info["packages"]
    prepared = await prepare_worker(settings, services.cache)
    if real_executor:
        await start_worker(services)
    else:
        services.executor = FakeExecutor()
        services.heartbeat = Heartbeat(services, worker_id)
        await services.heartbeat.start()
    services._tasks.append(asyncio.create_task(watch_requirements(services, prepared)))
    return services, prepared.summary()
