"""The `modules`, `requirements` and `objects` targets repair (or report) a cache and an object
store edited behind the database's back, on both back ends (in-process cache and Redis)."""

from __future__ import annotations

import hashlib
import json

from bifrost import names
from bifrost.cache.local import LocalModuleCache
from bifrost.runtime.protocol import Snapshot
from bifrost.sync import sync, sync_status

SOURCE = b"def value():\n    return 41\n"
SHA = hashlib.sha256(SOURCE).hexdigest()
GHOST_SHA = "0" * 64


async def _tamper_manifest(store) -> None:
    """A ghost module (no such file), a stale entry (another hash), a wrong cached source."""
    cache = store.cache
    if isinstance(cache, LocalModuleCache):
        current = await cache.snapshot()
        manifest = {**current.manifest, "ghost/module.py": GHOST_SHA, "shared/util.py": "1" * 64}
        cache._snapshot = Snapshot(generation=current.generation, manifest=manifest)
        cache.blobs.drop(SHA)
        cache.blobs.put(SHA, b"def value():\n    return 666\n")
        return
    key = names.manifest_key(store.settings.cache_prefix)
    await cache.snapshot()
    await store.redis.hset(key, mapping={"ghost/module.py": GHOST_SHA, "shared/util.py": "1" * 64})
    blob = names.blob_key(store.settings.cache_prefix, SHA)
    await store.redis.set(blob, b"def value():\n    return 666\n")


async def test_modules_repairs_a_ghost_a_stale_entry_and_a_wrong_source(store) -> None:
    await store.files.write("shared/util.py", SOURCE)
    await store.files.write("workflows/other.py", b"Y = 2\n")
    clean = await sync("modules", context=store)
    assert (clean["missing"], clean["stale"], clean["ghost"], clean["stale_sources"]) == (0,) * 4

    await _tamper_manifest(store)
    report_only = await sync("modules", context=store, repair=False)
    assert (report_only["stale"], report_only["ghost"], report_only["stale_sources"]) == (1, 1, 1)
    assert report_only["repaired"] == 0
    assert "ghost/module.py" in (await store.cache.snapshot()).manifest  # left as it was

    repaired = await sync("modules", context=store)
    assert (repaired["stale"], repaired["ghost"], repaired["stale_sources"]) == (1, 1, 1)
    assert repaired["repaired"] == 1
    snapshot = await store.cache.snapshot()
    assert "ghost/module.py" not in snapshot.manifest
    assert snapshot.manifest["shared/util.py"] == SHA
    assert await store.cache.blob(SHA) == SOURCE

    after = await sync("modules", context=store)
    assert (after["missing"], after["stale"], after["ghost"], after["stale_sources"]) == (0,) * 4
    assert after["repaired"] == 0
    status = (await sync_status(context=store))["modules"]
    assert status["last_result"] == after and status["last_error"] is None


async def test_modules_refills_a_manifest_and_sources_lost_from_redis(backend, store) -> None:
    await store.files.write("shared/util.py", SOURCE)
    if backend.name == "embedded":
        return  # the in-process cache fills itself on demand: nothing can be missing
    prefix = store.settings.cache_prefix
    await store.cache.warm()
    await store.redis.hdel(names.manifest_key(prefix), "shared/util.py")
    await store.redis.delete(names.blob_key(prefix, SHA))
    found = await sync("modules", context=store)
    assert found["missing"] == 1 and found["missing_sources"] == 1 and found["repaired"] == 1
    assert (await store.redis.hget(names.manifest_key(prefix), "shared/util.py")).decode() == SHA
    assert await store.redis.get(names.blob_key(prefix, SHA)) == SOURCE


async def test_requirements_repairs_a_missing_a_stale_and_a_ghost_entry(backend, store) -> None:
    await store.files.write(names.REQUIREMENTS_PATH, b"httpx==0.27.0\n")
    if backend.name == "embedded":
        found = await sync("requirements", context=store)
        assert found == {"checked": 1, "missing": 0, "stale": 0, "ghost": 0, "repaired": 0}
        return
    key = names.requirements_key(store.settings.cache_prefix)
    await store.redis.delete(key)
    missing = await sync("requirements", context=store)
    assert missing["missing"] == 1 and missing["repaired"] == 1
    cached = json.loads(await store.redis.get(key))
    assert cached["content"] == "httpx==0.27.0\n"

    await store.redis.set(key, json.dumps({"content": "evil==1\n", "hash": cached["hash"]}))
    stale = await sync("requirements", context=store)
    assert stale["stale"] == 1 and stale["repaired"] == 1
    assert json.loads(await store.redis.get(key))["content"] == "httpx==0.27.0\n"

    await store.files.delete(names.REQUIREMENTS_PATH)
    await store.redis.set(key, json.dumps({"content": "httpx==0.27.0\n", "hash": "x"}))
    ghost = await sync("requirements", context=store)
    assert ghost["ghost"] == 1 and ghost["repaired"] == 1
    assert await store.cache.requirements() is None
    assert (await sync("requirements", context=store))["repaired"] == 0


async def test_objects_reports_missing_and_corrupt_objects(store) -> None:
    first, second = b"\x89PNG\0first" * 10, b"\x89PNG\0second" * 10
    await store.files.write("images/a.png", first)
    await store.files.write("images/b.png", second)
    await store.files.write("images/c.png", b"\x89PNG\0third")
    sound = await sync("objects", context=store)
    assert sound["checked"] == 3 and sound["missing"] == sound["corrupt"] == []

    store.objects.delete(hashlib.sha256(first).hexdigest())
    corrupt_sha = hashlib.sha256(second).hexdigest()
    store.objects.put(corrupt_sha, b"not what was stored")
    found = await sync("objects", context=store)
    assert [item["path"] for item in found["missing"]] == ["images/a.png"]
    assert found["corrupt"] == [{"path": "images/b.png", "sha256": corrupt_sha}]
    status = (await sync_status(context=store))["objects"]
    assert "1 objects missing and 1 corrupt" in status["last_error"]
    assert "images/a.png" in status["last_error"] and status["lag_s"] is not None
