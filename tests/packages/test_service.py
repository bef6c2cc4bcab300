"""The install/remove flow on both back ends: file, cache entry, recycle, acknowledgements."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bifrost import names
from bifrost.cache.redis import RedisModuleCache, connect
from bifrost.context import open_context
from bifrost.errors import InvalidInput, NotFound
from bifrost.jobs.runner import raise_for_failure
from bifrost.packages import worker as package_worker
from bifrost.packages.installer import installed
from bifrost.store.db import Database
from bifrost.store.files import ANY
from bifrost.store.objects import LocalObjectStore
from bifrost.store.reader import StoreReader
from tests.conftest import Backend, wait_until
from tests.packages.conftest import Node, open_worker

# These need Redis or several processes, which embedded mode does not have.
DISTRIBUTED_ONLY = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


@pytest.fixture
async def svc(pkg_backend: Backend) -> AsyncIterator[Node]:
    services, _ = await open_worker(pkg_backend.settings)
    try:
        yield services
    finally:
        await services.close()


async def content(svc: Node) -> str:
    return (await svc.files.read("requirements.txt"))[1].decode()


def importable(target: Path, module: str) -> bool:
    code = f"import {module}"
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


async def test_install_updates_file_cache_and_recycles_workers(svc: Node) -> None:
    events: list[dict] = []
    async with svc.events.subscribe(names.job_channel("job1")) as inbox:
        job = await svc.api.jobs.run(
            names.INSTALL_PACKAGE_JOB,
            {"requirement": "BFT_Alpha[x]>=1.0"},
            job_id="job1",
            created_by=None,
            wait_s=120,
        )
        body = raise_for_failure(job)
        while not events or events[-1]["type"] != "done":  # Redis delivers a little later
            events.append(await asyncio.wait_for(inbox.get(), 10))
    assert body["requirement"] == "BFT_Alpha[x]>=1.0" and body["name"] == "bft-alpha"
    assert body["changed"] and body["waiting_for"] == []
    assert list(body["workers"]) == ["w1"] and body["workers"]["w1"]["failed"] == {}
    assert await content(svc) == "BFT_Alpha[x]>=1.0\n"
    assert svc.executor.recycles == 1
    assert importable(svc.settings.packages_path, "bft_alpha")
    entry = await svc.cache.requirements()
    assert entry is not None and entry["content"] == "BFT_Alpha[x]>=1.0\n"
    assert entry["hash"] == body["hash"]
    if svc.redis is not None:
        key = names.requirements_key(svc.settings.cache_prefix)
        assert 86000 < await svc.redis.ttl(key) <= 86400
        assert json.loads(await svc.redis.get(key))["hash"] == body["hash"]
    kinds = [e["type"] for e in events]
    assert "output" in kinds and "progress" in kinds and kinds[-1] == "done"
    assert events[-1]["ok"] is True

    again = await svc.packages.install("BFT_Alpha[x] >= 1.0")  # same requirement, same line
    assert not again["changed"] and svc.executor.recycles == 1


async def test_concurrent_installs_all_end_up_in_the_file(svc: Node) -> None:
    await asyncio.gather(
        svc.packages.install("bft-alpha"),
        svc.packages.install("bft-epsilon==3.0"),
        svc.packages.install("bft-gamma[fast]"),
    )
    assert sorted((await content(svc)).splitlines()) == [
        "bft-alpha",
        "bft-epsilon==3.0",
        "bft-gamma[fast]",
    ]
    assert {"bft-alpha", "bft-epsilon", "bft-gamma", "bft-delta"} <= set(
        installed(svc.settings.packages_path)
    )


async def test_a_conflicting_edit_is_retried_never_lost(
    svc: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    await svc.files.write("requirements.txt", b"# ours\nbft-beta\n")
    real_write = svc.files.write
    raced = []

    async def racing_write(path, data, **kwargs):
        if path == "requirements.txt" and kwargs.get("expected_hash") is not ANY and not raced:
            raced.append(True)  # someone saves the file between our read and our write
            await real_write(path, b"# ours\nbft-beta\nbft-epsilon  # by hand\n")
        return await real_write(path, data, **kwargs)

    monkeypatch.setattr(svc.files, "write", racing_write)
    await svc.packages.install("bft-alpha")
    assert raced
    assert await content(svc) == "# ours\nbft-beta\nbft-epsilon  # by hand\nbft-alpha\n"


async def test_a_package_that_cannot_be_installed_is_refused(svc: Node) -> None:
    await svc.packages.install("bft-alpha")
    before = await content(svc)
    recycles = svc.executor.recycles
    async with svc.events.subscribe(names.job_channel("bad")) as inbox:
        job = await svc.api.jobs.run(
            names.INSTALL_PACKAGE_JOB,
            {"requirement": "bft-broken"},
            job_id="bad",
            created_by=None,
            wait_s=120,
        )
        with pytest.raises(InvalidInput) as refused:
            raise_for_failure(job)
        events = [await asyncio.wait_for(inbox.get(), 10)]
        while events[-1]["type"] != "done":
            events.append(await asyncio.wait_for(inbox.get(), 10))
    assert "cairo.h" in refused.value.message
    assert events[-1]["type"] == "done" and not events[-1]["ok"]
    assert await content(svc) == before  # requirements.txt keeps only what installs
    assert svc.executor.recycles == recycles
    with pytest.raises(InvalidInput):
        await svc.packages.install("bft-alpha>=")


async def test_hand_edit_with_a_broken_line_installs_the_rest(svc: Node) -> None:
    async with svc.events.subscribe(names.PACKAGE_ACKS_CHANNEL) as acks:
        written = await svc.files.write(
            "requirements.txt", b"bft-alpha\nbft-broken\n-r other.txt\nbft-epsilon\n"
        )
        ack = await asyncio.wait_for(acks.get(), 60)
    assert ack["worker"] == "w1" and ack["generation"] == written.generation
    assert sorted(ack["installed"]) == ["bft-alpha", "bft-epsilon"]
    assert list(ack["failed"]) == ["bft-broken"] and "cairo.h" in ack["failed"]["bft-broken"]
    assert ack["ignored"] == [
        "-r other.txt: pip options are not used; the administrator sets BIFROST_PACKAGE_INDEX_ARGS"
    ]
    listing = await svc.packages.list()
    assert [p["name"] for p in listing["packages"]] == ["bft-alpha", "bft-broken", "bft-epsilon"]
    assert [p["installed_version"] for p in listing["packages"]] == ["1.0", None, "3.0"]
    assert listing["ignored"][0]["line"] == "-r other.txt"
    (worker,) = listing["workers"]
    assert (
        "cairo.h" in worker["failed"]["bft-broken"] and worker["hash"] == written.file.content_hash
    )
    if svc.redis is not None:  # the listener refreshed the cache entry after the hand edit
        raw = await svc.redis.get(names.requirements_key(svc.settings.cache_prefix))
        assert json.loads(raw)["generation"] == written.generation


async def test_uninstall(svc: Node) -> None:
    await svc.packages.install("bft-alpha")
    await svc.packages.install("bft-gamma[fast]")
    target = svc.settings.packages_path
    assert importable(target, "bft_delta")
    body = await svc.packages.remove("BFT_Gamma")
    assert body["lines"] == ["bft-gamma[fast]"] and body["changed"]
    assert sorted(body["uninstalled"]) == ["bft-delta", "bft-gamma"]
    assert body["workers"]["w1"]["removed"] == []  # this machine's directory was shared
    assert await content(svc) == "bft-alpha\n"
    assert not importable(target, "bft_gamma") and importable(target, "bft_alpha")
    with pytest.raises(NotFound):
        await svc.packages.remove("bft-gamma")


@DISTRIBUTED_ONLY
async def test_a_worker_on_another_machine_follows(pkg_backend: Backend, tmp_path: Path) -> None:
    """Distributed: the API installs here, a worker with its own directory installs there."""
    api, _ = await open_worker(pkg_backend.settings, worker_id="api-side")
    remote_settings = pkg_backend.settings.model_copy(update={"packages_dir": tmp_path / "far"})
    remote, _ = await open_worker(remote_settings, worker_id="remote")
    try:
        body = await api.packages.install("bft-alpha")
        assert set(body["workers"]) == {"api-side", "remote"}
        assert body["workers"]["remote"]["installed"] == ["bft-alpha"]
        assert importable(tmp_path / "far", "bft_alpha")
        await api.packages.remove("bft-alpha")
        assert installed(tmp_path / "far") == {}
    finally:
        await remote.close()
        await api.close()


async def test_worker_restart_with_a_fresh_directory(svc: Node, tmp_path: Path) -> None:
    await svc.packages.install("bft-alpha")
    fresh = svc.settings.model_copy(update={"packages_dir": tmp_path / "fresh"})
    report = await package_worker.prepare_worker(fresh, svc.cache)
    assert report.error is None and report.installed == ["bft-alpha"]
    assert str(tmp_path / "fresh") not in sys.path  # only executions import from it
    assert importable(tmp_path / "fresh", "bft_alpha")
    again = await package_worker.prepare_worker(fresh, svc.cache)
    assert again.installed == [] and again.seconds < 0.5


@DISTRIBUTED_ONLY
async def test_worker_start_without_redis_reads_the_database(
    pkg_backend: Backend, tmp_path: Path
) -> None:
    async with open_context(pkg_backend.settings) as writer:
        await writer.files.write("requirements.txt", b"bft-epsilon\n")
    down = pkg_backend.settings.model_copy(update={"packages_dir": tmp_path / "p"})
    db = Database(down)
    objects = LocalObjectStore(down.data_dir / "objects")
    cache = RedisModuleCache(connect("redis://127.0.0.1:1/0"), StoreReader(db, objects))
    try:
        report = await package_worker.prepare_worker(down, cache)
    finally:
        await cache.close()
        await db.close()
    assert report.error is None and report.installed == ["bft-epsilon"]


class BrokenCache:
    def __init__(self, hang: bool = False) -> None:
        self.hang = hang

    async def requirements(self) -> dict[str, str] | None:
        if self.hang:
            await asyncio.sleep(3600)
        raise ConnectionError("database and cache are both down")


async def test_worker_starts_without_packages_when_nothing_can_be_read(
    pkg_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = await package_worker.prepare_worker(pkg_backend.settings, BrokenCache())
    assert "both down" in (report.error or "") and report.installed == []
    monkeypatch.setattr(package_worker, "READ_TIMEOUT_S", 0.1)
    report = await package_worker.prepare_worker(pkg_backend.settings, BrokenCache(hang=True))
    assert "could not read requirements.txt" in (report.error or "")


async def test_worker_catches_up_after_a_lost_message(pkg_backend: Backend) -> None:
    """Pub/sub can drop a message (Redis restarts): the periodic hash check still applies it."""
    settings = pkg_backend.settings.model_copy(update={"package_check_interval_s": 0.2})
    svc, _ = await open_worker(settings)
    try:
        svc.files.listeners.clear()  # the change is committed but nobody is told
        await svc.files.write("requirements.txt", b"bft-epsilon\n")
        if svc.redis is not None:
            await svc.redis.delete(names.requirements_key(settings.cache_prefix))

        async def caught_up() -> bool:
            return svc.executor.recycles >= 1

        await wait_until(caught_up, timeout=30)
        assert "bft-epsilon" in installed(settings.packages_path)
    finally:
        await svc.close()


@DISTRIBUTED_ONLY
async def test_concurrent_installs_from_two_api_processes(
    pkg_backend: Backend, tmp_path: Path
) -> None:
    """Two API processes race on requirements.txt; only the compare-and-swap keeps both."""
    one, _ = await open_worker(pkg_backend.settings, worker_id="one")
    other = pkg_backend.settings.model_copy(update={"packages_dir": tmp_path / "other"})
    two, _ = await open_worker(other, worker_id="two")
    try:
        for round_ in range(5):
            names = [f"bft-bench{2 * round_}", f"bft-bench{2 * round_ + 1}"]
            await asyncio.gather(one.packages.install(names[0]), two.packages.install(names[1]))
            assert set(names) <= set((await content(one)).splitlines())
    finally:
        await two.close()
        await one.close()
