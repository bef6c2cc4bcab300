"""The module cache in Redis, shared by every API and worker process.

The manifest is one hash, ``<prefix>manifest``, holding path -> sha256 plus the generation under a
sentinel field, so the two can never be lost or updated apart. Changes are applied by a Lua script
only in generation order; a gap (a write made while Redis was down, or two writers racing) makes the
writer rebuild the whole manifest from the database instead.
"""

from __future__ import annotations

import contextlib
import json
import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bifrost import names
from bifrost.cache.base import Source
from bifrost.cache.change import Change
from bifrost.cache.reconcile import compare, hashes_to, report
from bifrost.runtime.protocol import Snapshot

log = logging.getLogger(__name__)

GENERATION_FIELD = "\x00generation"
BLOB_TTL_S = 24 * 3600
REQUIREMENTS_TTL_S = 24 * 3600

_APPLY = """
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
local gen = tonumber(ARGV[2])
if cur >= gen then return 0 end
if cur ~= gen - 1 then return -1 end
for i = 3, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
redis.call('HSET', KEYS[1], ARGV[1], gen)
return 1
"""

# Replace the whole manifest with generation ARGV[2]. ARGV[3] is the guard: "force" replaces
# whatever is there (after a database restore); "" yields to a generation as new or newer; a
# number (reconciliation's repair: the generation the cache had when it was compared) yields
# only to a newer change that arrived since.
_REPLACE = """
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
local gen = tonumber(ARGV[2])
if ARGV[3] ~= 'force' and cur >= gen and cur ~= tonumber(ARGV[3]) then return 0 end
redis.call('DEL', KEYS[1])
for i = 4, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('HSET', KEYS[1], ARGV[1], gen)
return 1
"""

SCAN_BATCH = 500

_SET_IF_NEWER = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, value = pcall(cjson.decode, cur)
  if ok and type(value) == 'table' and tonumber(value['generation'])
     and tonumber(value['generation']) >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
"""


def connect(url: str) -> aioredis.Redis:
    """Short timeouts: a down Redis must fail a cache call fast, never hang a write."""
    return aioredis.Redis.from_url(
        url, socket_connect_timeout=1.0, socket_timeout=2.0, health_check_interval=30
    )


class RedisModuleCache:
    def __init__(self, client: aioredis.Redis, store: Source, prefix: str = "bifrost:") -> None:
        self.redis = client
        self.store = store
        self.prefix = prefix
        self.manifest_key = names.manifest_key(prefix)
        self.requirements_key = names.requirements_key(prefix)
        self._apply = client.register_script(_APPLY)
        self._replace = client.register_script(_REPLACE)
        self._set_if_newer = client.register_script(_SET_IF_NEWER)
        self._needs_repair = False

    def _blob_key(self, sha256: str) -> str:
        return names.blob_key(self.prefix, sha256)

    async def apply(self, change: Change) -> None:
        try:
            if change.blobs:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for sha, content in change.blobs.items():
                        pipe.set(self._blob_key(sha), content, ex=BLOB_TTL_S)
                    await pipe.execute()
            args: list[str | int] = [GENERATION_FIELD, change.generation]
            for path, sha in change.paths.items():
                args += [path, sha or ""]
            if self._needs_repair or await self._apply(keys=[self.manifest_key], args=args) == -1:
                await self.rebuild()
            await self._apply_requirements(change)  # after a rebuild, which drops the entry
        except RedisError as exc:
            self._needs_repair = True
            log.warning("cache update failed (%s); it will be rebuilt from the database", exc)

    async def _apply_requirements(self, change: Change) -> None:
        """Store the new requirements.txt unless a newer one is there already (two writers
        racing must not leave the older file cached for a day); a deletion just drops it."""
        if names.REQUIREMENTS_PATH not in change.paths:
            return
        if change.requirements is None:
            await self.redis.delete(self.requirements_key)
            return
        value = {
            "content": change.requirements.decode("utf-8", "replace"),
            "hash": change.paths[names.REQUIREMENTS_PATH],
            "generation": change.generation,
        }
        await self._set_if_newer(
            keys=[self.requirements_key],
            args=[json.dumps(value), change.generation, REQUIREMENTS_TTL_S],
        )

    async def generation(self) -> int:
        value = await self.redis.hget(self.manifest_key, GENERATION_FIELD)
        return -1 if value is None else int(value)

    async def snapshot(self, min_generation: int = 0) -> Snapshot:
        try:
            raw = await self.redis.hgetall(self.manifest_key)
        except RedisError as exc:
            log.warning("cache read failed (%s); reading the manifest from the database", exc)
            return await self.store.snapshot()
        generation = raw.pop(GENERATION_FIELD.encode(), None)
        if generation is None or int(generation) < min_generation:
            await self.rebuild()
            return await self.snapshot(min_generation=0)
        manifest = {k.decode(): v.decode() for k, v in raw.items()}
        return Snapshot(generation=int(generation), manifest=manifest)

    async def rebuild(self, *, force: bool = False) -> int:
        """Replace the manifest with the database's, unless Redis already holds a newer one.

        ``force`` replaces it whatever its generation: after a database restore, the cache may
        hold a generation the database never reaches again."""
        snap = await self.store.snapshot()
        await self._replace_manifest(snap, "force" if force else "")
        await self.redis.delete(self.requirements_key)
        self._needs_repair = False
        return snap.generation

    async def _replace_manifest(self, snap: Snapshot, guard: str | int) -> bool:
        """``snap`` as the whole manifest, unless ``guard`` says to yield (see ``_REPLACE``)."""
        args: list[str | int] = [GENERATION_FIELD, snap.generation, guard]
        for path, sha in snap.manifest.items():
            args += [path, sha]
        return bool(await self._replace(keys=[self.manifest_key], args=args))

    async def warm(self) -> int:
        generation = await self.rebuild(force=True)
        blobs = await self.store.python_blobs()
        async with self.redis.pipeline(transaction=False) as pipe:
            for sha, content in blobs.items():
                pipe.set(self._blob_key(sha), content, ex=BLOB_TTL_S)
            await pipe.execute()
        await self.requirements()
        return generation

    async def blob(self, sha256: str) -> bytes | None:
        try:
            content = await self.redis.get(self._blob_key(sha256))
        except RedisError as exc:
            log.warning("cache read failed (%s); reading the database", exc)
            return await self.store.blob(sha256)
        if content is not None:
            return content
        content = await self.store.blob(sha256)
        if content is not None:
            with contextlib.suppress(RedisError):
                await self.redis.set(self._blob_key(sha256), content, ex=BLOB_TTL_S)
        return content

    async def requirements(self) -> dict[str, str] | None:
        try:
            cached = await self.redis.get(self.requirements_key)
            if cached is not None:
                value = json.loads(cached)
                return {"content": value["content"], "hash": value["hash"]} if value else None
        except RedisError as exc:
            log.warning("cache read failed (%s); reading requirements from the database", exc)
            return await self.store.requirements()
        value = await self.store.requirements()
        with contextlib.suppress(RedisError):
            await self.redis.set(
                self.requirements_key, json.dumps(value or {}), ex=REQUIREMENTS_TTL_S, nx=True
            )
        return value

    async def reconcile_modules(self, *, repair: bool = True) -> dict[str, int]:
        """The cache is read before the database: a change committed in between makes the
        database newer, never older, so the repair (which yields to any change newer than the
        database read) cannot put an old manifest back."""
        raw = await self.redis.hgetall(self.manifest_key)
        found = raw.pop(GENERATION_FIELD.encode(), None)
        cache_generation = None if found is None else int(found)
        cached = {k.decode(): v.decode() for k, v in raw.items()}
        database = await self.store.snapshot()
        diff = compare(cached, database.manifest)
        expected = -1 if cache_generation is None else cache_generation
        repaired = False
        if repair and (diff.differs or cache_generation != database.generation):
            repaired = await self._replace_manifest(database, expected)
        checked, stale = await self._check_blobs(repair=repair)
        wanted = sorted({sha for p, sha in database.manifest.items() if p.endswith(".py")})
        missing = await self._missing_blobs(wanted)
        if repair:
            for sha in missing:
                content = await self.store.blob(sha)
                if content is not None:
                    await self.redis.set(self._blob_key(sha), content, ex=BLOB_TTL_S)
        return report(
            diff,
            generation=database.generation,
            cache_generation=cache_generation,
            sources_checked=checked,
            missing_sources=len(missing),
            stale_sources=stale,
            repaired=repaired or (repair and bool(stale or missing)),
        )

    async def _check_blobs(self, *, repair: bool) -> tuple[int, int]:
        """Every cached source against its key's hash; a wrong one is deleted (the next read
        fills it from the database). (checked, wrong)."""
        checked = wrong = 0
        pattern = self._blob_key("*")
        keys: list[bytes] = []
        async for key in self.redis.scan_iter(match=pattern, count=SCAN_BATCH):
            keys.append(key)
        start = len(self._blob_key(""))
        for offset in range(0, len(keys), SCAN_BATCH):
            batch = keys[offset : offset + SCAN_BATCH]
            contents = await self.redis.mget(batch)
            bad = [
                key
                for key, content in zip(batch, contents, strict=True)
                if content is not None and not hashes_to(content, key.decode()[start:])
            ]
            checked += sum(1 for content in contents if content is not None)
            wrong += len(bad)
            if repair and bad:
                await self.redis.delete(*bad)
        return checked, wrong

    async def _missing_blobs(self, shas: list[str]) -> list[str]:
        missing: list[str] = []
        for offset in range(0, len(shas), SCAN_BATCH):
            batch = shas[offset : offset + SCAN_BATCH]
            async with self.redis.pipeline(transaction=False) as pipe:
                for sha in batch:
                    pipe.exists(self._blob_key(sha))
                present = await pipe.execute()
            missing += [sha for sha, there in zip(batch, present, strict=True) if not there]
        return missing

    async def reconcile_requirements(self, *, repair: bool = True) -> dict[str, int]:
        """The cached requirements.txt against the database's: missing (nothing cached while the
        file exists), stale (other content or hash) or ghost (cached, but no file). A repair
        drops a wrong entry and fills it again from the database (``requirements()``), which
        never overwrites an entry a concurrent write just set."""
        raw = await self.redis.get(self.requirements_key)
        database = await self.store.requirements()
        cached = json.loads(raw) if raw is not None else None
        counts = {"checked": 1, "missing": 0, "stale": 0, "ghost": 0, "repaired": 0}
        if cached is None:
            counts["missing"] = int(database is not None)
        elif not cached:  # cached as "no requirements.txt"
            counts["stale"] = int(database is not None)
        elif database is None:
            counts["ghost"] = 1
        elif (cached.get("content"), cached.get("hash")) != (
            database["content"],
            database["hash"],
        ):
            counts["stale"] = 1
        if repair and (counts["missing"] or counts["stale"] or counts["ghost"]):
            if counts["stale"] or counts["ghost"]:
                await self.redis.delete(self.requirements_key)
            await self.requirements()
            counts["repaired"] = 1
        return counts

    async def health(self) -> dict[str, object]:
        try:
            await self.redis.ping()
            return {"kind": "redis", "ok": True, "generation": await self.generation()}
        except RedisError as exc:
            return {"kind": "redis", "ok": False, "error": type(exc).__name__, "message": str(exc)}

    async def close(self) -> None:
        await self.redis.aclose()
