"""Where the real PostgreSQL and Redis are, and throwaway databases and key prefixes on them.

Shared by the tests and the benchmarks, so both point at the same servers the same way.
"""

from __future__ import annotations

import os
import socket

import psycopg
import redis

PG_ADMIN = os.environ.get("BIFROST_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BIFROST_TEST_REDIS", "redis://127.0.0.1:6379/0")


def pg_url(database: str) -> str:
    """The URL of another database on the admin connection's server."""
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{database}"


def pg_exec(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)


def drop_database(name: str) -> None:
    pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def drop_prefix(prefix: str) -> None:
    """Delete every Redis key under ``prefix``."""
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


def free_port() -> int:
    """A port nothing listens on, for a server about to start. The kernel picks it at random and
    another pytest-xdist worker of this run could be handed the same one before its server binds,
    so each worker takes only its own share of them (``port // 2`` modulo the worker count: for
    ``bind`` the kernel prefers odd ports, keeping the even ones for outgoing connections)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port // 2 % workers == int(worker):
            return port
