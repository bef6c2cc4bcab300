"""The object stores (local directory and S3 on moto's server), checked reads and collection."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from botocore.stub import Stubber

from bifrost.context import open_context
from bifrost.errors import Inconsistent, Unavailable
from bifrost.settings import Settings
from bifrost.store.gc import collect
from bifrost.store.objects import LocalObjectStore, ObjectStore, object_store, verified
from bifrost.store.s3 import S3ObjectStore, parse_url
from tests.conftest import Backend
from tests.s3 import SECRET, Bucket
from tests.serving import BIFROST

BLOB = bytes(range(256)) * 2048  # 512 KiB, binary: always in the object store
SHA = hashlib.sha256(BLOB).hexdigest()
HOUR = 3600.0


@pytest.fixture(params=["local", "s3"])
def objects(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    bucket: Bucket = request.getfixturevalue("s3_bucket")
    return object_store(bucket.settings(Settings(data_dir=tmp_path)))


def test_the_url_names_bucket_and_prefix() -> None:
    assert parse_url("s3://b/") == ("b", "")
    assert parse_url("s3://b") == ("b", "")
    assert parse_url("s3://b/x/y/") == ("b", "x/y/")


def test_an_s3_url_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="object_store"):
        Settings(object_store="http://bucket/prefix")


def test_put_get_and_missing(objects: ObjectStore) -> None:
    assert objects.get(SHA) is None and objects.modified(SHA) is None
    objects.put(SHA, BLOB)
    objects.put(SHA, BLOB)  # idempotent
    assert objects.get(SHA) == BLOB
    assert verified(objects, SHA, "assets/big.bin") == BLOB
    assert objects.modified(SHA) is not None
    assert [(o.sha256, o.size) for o in objects.scan()] == [(SHA, len(BLOB))]
    objects.delete(SHA)
    objects.delete(SHA)  # gone already: no error
    assert objects.get(SHA) is None and list(objects.scan()) == []


def test_keys_must_be_hashes(objects: ObjectStore) -> None:
    with pytest.raises(ValueError, match="sha256"):
        objects.put("../../etc/passwd", b"x")


def test_a_missing_or_corrupt_object_names_the_path(objects: ObjectStore) -> None:
    with pytest.raises(Inconsistent, match=r"assets/big\.bin .*missing"):
        verified(objects, SHA, "assets/big.bin")
    objects.put(SHA, b"other bytes")  # a store that lost or damaged what it held
    with pytest.raises(Inconsistent, match=r"assets/big\.bin .*corrupt"):
        verified(objects, SHA, "assets/big.bin")


def test_s3_keys_are_prefix_and_hash(s3_bucket: Bucket, tmp_path: Path) -> None:
    store = object_store(s3_bucket.settings(Settings(data_dir=tmp_path)))
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key="objects/README", Body=b"not ours")
    store.put(SHA, BLOB)
    assert s3_bucket.keys() == sorted(["objects/README", s3_bucket.key(SHA)])
    assert [o.sha256 for o in store.scan()] == [SHA]  # keys that are not hashes are ignored
    assert not (tmp_path / "objects").exists()  # no local disk


def _store(bucket: Bucket, **changes: object) -> S3ObjectStore:
    store = object_store(bucket.settings().model_copy(update=changes))
    assert isinstance(store, S3ObjectStore)
    return store


def test_s3_failures_are_unavailable_and_name_no_secret(s3_bucket: Bucket) -> None:
    no_bucket = _store(s3_bucket, object_store="s3://no-such-bucket-here/p")
    with pytest.raises(Unavailable, match="NoSuchBucket") as refused:
        no_bucket.get(SHA)
    with pytest.raises(Unavailable, match="NoSuchBucket"):
        no_bucket.put(SHA, BLOB)
    nobody = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(Unavailable, match="cannot read object") as unreachable:
        _store(s3_bucket, object_store_endpoint_url=nobody).get(SHA)
    denied = _store(s3_bucket)
    with Stubber(denied.client) as stub, pytest.raises(Unavailable, match="AccessDenied") as no:
        stub.add_client_error("get_object", "AccessDenied", http_status_code=403)
        denied.get(SHA)
    for raised in (refused, unreachable, no):
        assert SECRET not in str(raised.value)


def _closed_port() -> int:
    from tests.servers import free_port

    return free_port()  # nothing listens there


@pytest.fixture
async def s3_ctx(backend: Backend, s3_bucket: Bucket) -> AsyncIterator:
    async with open_context(s3_bucket.settings(backend.settings)) as ctx:
        yield ctx


async def test_files_live_in_the_bucket_and_a_broken_object_is_inconsistent(
    s3_ctx, s3_bucket: Bucket
) -> None:
    result = await s3_ctx.files.write("assets/big.bin", BLOB)
    assert result.file.in_object_store
    assert s3_bucket.keys() == [s3_bucket.key(SHA)]
    assert (await s3_ctx.files.read("assets/big.bin"))[1] == BLOB
    assert await s3_ctx.cache.blob(SHA) == BLOB  # what a workflow's resource read goes through
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key=s3_bucket.key(SHA), Body=b"rot")
    with pytest.raises(Inconsistent, match=r"assets/big\.bin .*corrupt"):
        await s3_ctx.files.read("assets/big.bin")
    s3_bucket.client.delete_object(Bucket=s3_bucket.name, Key=s3_bucket.key(SHA))
    with pytest.raises(Inconsistent, match=r"assets/big\.bin .*missing"):
        await s3_ctx.files.read("assets/big.bin")


async def test_the_object_is_stored_before_the_row(backend: Backend, s3_bucket: Bucket) -> None:
    """A store that refuses the object leaves no row behind that would point at nothing."""
    broken = s3_bucket.settings(backend.settings).model_copy(
        update={"object_store": "s3://no-such-bucket-here/p"}
    )
    async with open_context(broken) as ctx:
        with pytest.raises(Unavailable):
            await ctx.files.write("assets/big.bin", BLOB)
        assert await ctx.files.list() == []


@pytest.fixture(params=["local", "s3"])
async def any_ctx(request: pytest.FixtureRequest, backend: Backend) -> AsyncIterator:
    settings = backend.settings
    if request.param == "s3":
        settings = request.getfixturevalue("s3_bucket").settings(settings)
    async with open_context(settings) as ctx:
        yield ctx


async def test_collection_keeps_referenced_and_young_objects(any_ctx) -> None:
    files, objects = any_ctx.files, any_ctx.objects
    old = (await files.write("assets/a.bin", BLOB)).file.content_hash
    current = (await files.write("assets/a.bin", BLOB[::-1])).file.content_hash
    deleted = (await files.write("assets/b.bin", BLOB[1:])).file.content_hash
    await files.delete("assets/b.bin")
    stray = hashlib.sha256(b"\0stray").hexdigest()
    await _put(objects, stray, b"\0stray")
    assert await files.list() != []

    now = await collect(any_ctx.db, objects, grace_s=HOUR)  # everything is young
    assert (now.scanned, now.referenced, now.young, now.removed) == (4, 2, 2, [])

    later = time.time() + 2 * HOUR
    dry = await collect(any_ctx.db, objects, grace_s=HOUR, dry_run=True, now=later)
    assert sorted(o.sha256 for o in dry.removed) == sorted([old, stray])
    assert {o.sha256 for o in objects.scan()} == {old, current, deleted, stray}  # dry: untouched

    done = await collect(any_ctx.db, objects, grace_s=HOUR, now=later)
    assert sorted(o.sha256 for o in done.removed) == sorted([old, stray])
    assert done.removed_bytes == len(BLOB) + len(b"\0stray")
    assert {o.sha256 for o in objects.scan()} == {current, deleted}
    assert (await files.read("assets/a.bin"))[1] == BLOB[::-1]
    again = await collect(any_ctx.db, objects, grace_s=HOUR, now=later)
    assert again.removed == []


async def test_a_write_of_an_existing_object_refreshes_it(tmp_path: Path) -> None:
    """The local store: an old unreferenced object written again is young again."""
    objects = LocalObjectStore(tmp_path)
    objects.put(SHA, BLOB)
    os.utime(objects._path(SHA), (0, 0))
    assert objects.modified(SHA) == 0
    objects.put(SHA, BLOB)  # what a write does before its row commits
    assert (objects.modified(SHA) or 0) > 0


async def _put(objects: ObjectStore, sha: str, content: bytes) -> None:
    import asyncio

    await asyncio.to_thread(objects.put, sha, content)


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_the_gc_command(kind: str, backend: Backend, request: pytest.FixtureRequest) -> None:
    env = {**os.environ, **backend.env}
    settings = backend.settings
    if kind == "s3":
        bucket: Bucket = request.getfixturevalue("s3_bucket")
        env.update(bucket.env)
        settings = bucket.settings(settings)
    objects = object_store(settings)
    objects.put(SHA, BLOB)

    def gc(*args: str) -> str:
        ran = subprocess.run(
            [BIFROST, "objects", "gc", *args], env=env, capture_output=True, text=True
        )
        assert ran.returncode == 0, ran.stderr
        return ran.stdout

    kept = gc("--dry-run")  # the default grace period (24 h) keeps a new object
    assert "1 younger than 24 h; would remove 0" in kept
    dry = gc("--dry-run", "--grace-hours", "0")
    assert f"would remove {SHA}" in dry and objects.get(SHA) == BLOB
    done = gc("--grace-hours", "0")
    assert f"removed {SHA} ({len(BLOB):,} bytes)" in done and objects.get(SHA) is None
