"""The module cache on both back ends: ordered deltas, rebuilds on gaps, repairs, restores."""

from __future__ import annotations

import pytest
import redis

from bifrost.cache.change import Change
from bifrost.cache.redis import GENERATION_FIELD
from bifrost.runtime.protocol import apply
from bifrost.worker.source import CacheCodeSource


async def test_a_cold_cache_fills_from_the_database(store) -> None:
    written = await store.files.write("shared/a.py", b"A = 1\n")
    snapshot = await store.cache.snapshot(written.generation)
    assert snapshot.manifest == {"shared/a.py": written.file.content_hash}
    assert await store.cache.blob(written.file.content_hash) == b"A = 1\n"


async def test_a_change_out_of_order_never_regresses_the_manifest(store) -> None:
    first = await store.files.write("shared/a.py", b"A = 1\n")
    second = await store.files.write("shared/a.py", b"A = 2\n")
    await store.cache.snapshot(second.generation)
    # A late delivery of the older change is ignored, not applied over the newer one.
    await store.cache.apply(Change(first.generation, {"shared/a.py": first.file.content_hash}, {}))
    snapshot = await store.cache.snapshot(0)
    assert snapshot.generation == second.generation
    assert snapshot.manifest["shared/a.py"] == second.file.content_hash


async def test_a_gap_makes_the_writer_rebuild(store) -> None:
    await store.files.write("shared/a.py", b"A = 1\n")
    await store.cache.snapshot(0)
    # A change the cache never heard of (as if applied while Redis was down) ...
    await store.cache.apply(Change(99, {"ghost.py": "0" * 64}, {}))
    # ... is not applied blindly: the cache reloads what the database says.
    written = await store.files.write("shared/b.py", b"B = 1\n")
    snapshot = await store.cache.snapshot(written.generation)
    assert "ghost.py" not in snapshot.manifest
    assert set(snapshot.manifest) == {"shared/a.py", "shared/b.py"}


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_init_replaces_a_manifest_newer_than_the_database(store, backend) -> None:
    """After a database restore, Redis may hold a generation the database will not reach."""
    await store.files.write("shared/a.py", b"A = 1\n")
    client = redis.Redis.from_url(backend.env["BIFROST_REDIS_URL"])
    key = backend.env["BIFROST_CACHE_PREFIX"] + "manifest"
    client.hset(key, mapping={GENERATION_FIELD: 1000, "restored-away.py": "f" * 64})
    assert "restored-away.py" in (await store.cache.snapshot(0)).manifest
    generation = await store.cache.warm()
    snapshot = await store.cache.snapshot(0)
    assert snapshot.generation == generation == 1
    assert set(snapshot.manifest) == {"shared/a.py"}


async def test_the_worker_source_hands_out_each_change_with_its_base(store) -> None:
    """Embedded: the cache's own change; Redis (read whole) or two changes on: the difference
    from the manifest last handed out. Either way, exactly what turns the base into the new one."""
    source = CacheCodeSource(store.cache)
    first = await store.files.write("shared/a.py", b"A = 1\n")
    await store.files.write("shared/b.py", b"B = 1\n")
    base = await source.snapshot(0)
    one = await store.files.write("shared/a.py", b"A = 2\n")
    snap = await source.snapshot(one.generation)
    assert (snap.base, snap.changes) == (base.generation, {"shared/a.py": one.file.content_hash})
    await store.files.delete("shared/b.py")
    last = await store.files.write("shared/c.py", b"C = 1\n")  # two changes since the last read
    after = await source.snapshot(last.generation)
    assert after.base == snap.generation
    assert after.changes == {"shared/b.py": None, "shared/c.py": last.file.content_hash}
    assert apply(snap.manifest, after.changes) == after.manifest
    assert after.manifest == {
        "shared/a.py": one.file.content_hash,
        "shared/c.py": last.file.content_hash,
    }
    assert first.file.content_hash not in after.manifest.values()
