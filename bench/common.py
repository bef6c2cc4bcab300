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

from bifrost.settings import Settings
from tests.servers import REDIS_URL, drop_database, drop_prefix, pg_exec, pg_url

ROOT = Path(__file__).resolve().parent.parent
BIFROST = str(Path(sys.executable).with_name("bifrost"))
TOKEN = "bench-admin-token-0123456789"


class Backend:
    """A fresh data directory, and for "postgres" a fresh database and Redis prefix."""

    def __init__(self, kind: str, bifrost: str = BIFROST) -> None:
        """``bifrost`` is the executable to run, so one benchmark can compare two checkouts."""
        self.kind = kind
        self.bifrost = bifrost
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
            pg_exec(f"CREATE DATABASE {self.database}")
            self.prefix = f"bifrost-bench-{uuid.uuid4().hex[:6]}:"
            self.env.update(
                BIFROST_DATABASE_URL=pg_url(self.database),
                BIFROST_REDIS_URL=REDIS_URL,
                BIFROST_CACHE_PREFIX=self.prefix,
            )
        self.init()

    def settings(self) -> Settings:
        """The same configuration as a Settings object, for benchmarks that open the store."""
        return Settings(
            **{
                k.removeprefix("BIFROST_").lower(): v
                for k, v in self.env.items()
                if k.startswith("BIFROST_")
            }
        )

    def init(self) -> None:
        subprocess.run([self.bifrost, "init"], env=self.env, check=True, capture_output=True)

    def spawn(self, *args: str) -> subprocess.Popen:
        log = open(self.tmp / f"{args[0]}.log", "ab")  # noqa: SIM115
        return subprocess.Popen(
            [self.bifrost, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    def close(self) -> None:
        if self.database:
            drop_database(self.database)
        if self.prefix:
            drop_prefix(self.prefix)
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
