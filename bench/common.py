"""Shared set-up for the benchmarks: throwaway back ends and real server processes.

Benchmarks never run in the test suite; they print figures measured side by side in one run,
because these machines are shared and noisy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
BIFROST = str(Path(sys.executable).with_name("bifrost"))
PG_ADMIN = os.environ.get("BIFROST_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BIFROST_TEST_REDIS", "redis://127.0.0.1:6379/0")
TOKEN = "bench-admin-token-0123456789"


class Backend:
    """A fresh data directory, and for "postgres" a fresh database and Redis prefix."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bifrost-bench-{kind}-"))
        self.env = {
            **os.environ,
            "BIFROST_DATA_DIR": str(self.tmp / "data"),
            "BIFROST_ADMIN_TOKEN": TOKEN,
            "BIFROST_WORKSPACE_ROOT": str(self.tmp / "vroot" / "workspace"),
        }
        self.database = None
        self.prefix = None
        if kind == "postgres":
            self.database = f"bifrost_bench_{uuid.uuid4().hex[:8]}"
            self._pg(f"CREATE DATABASE {self.database}")
            self.prefix = f"bifrost-bench-{uuid.uuid4().hex[:6]}:"
            self.env.update(
                BIFROST_DATABASE_URL=PG_ADMIN.rsplit("/", 1)[0] + f"/{self.database}",
                BIFROST_REDIS_URL=REDIS_URL,
                BIFROST_CACHE_PREFIX=self.prefix,
            )
        self.init()

    def init(self) -> None:
        subprocess.run([BIFROST, "init"], env=self.env, check=True, capture_output=True)

    @staticmethod
    def _pg(sql: str) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(sql)

    def spawn(self, *args: str) -> subprocess.Popen:
        log = open(self.tmp / f"{args[0]}.log", "ab")  # noqa: SIM115
        return subprocess.Popen(
            [BIFROST, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    def close(self) -> None:
        if self.database:
            self._pg(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")
        if self.prefix:
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(match=f"{self.prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        shutil.rmtree(self.tmp, ignore_errors=True)


def wait_healthy(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/health", timeout=1).json()["workers"]:
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.02)
    raise TimeoutError(f"{url} did not become healthy")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]
