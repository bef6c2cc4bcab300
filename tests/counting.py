"""Counting what a piece of work costs in round trips: SQL statements and transactions on a
Database's engines, calls into aiosqlite's thread, Redis commands and network round trips.

A count does not depend on the machine's load, so tests assert it (``tests/test_round_trips.py``)
and ``bench.round_trips`` prints it for two checkouts side by side.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event


class Counts:
    """What one measured window cost, by kind."""

    def __init__(self) -> None:
        self.sql: Counter[str] = Counter()  # first word of each statement sent, BEGIN aside
        self.transactions = 0  # BEGIN ... COMMIT/ROLLBACK pairs (a lone statement opens none)
        self.sqlite_hops = 0  # calls into aiosqlite's thread (each a wake-up of the loop)
        self.redis: Counter[str] = Counter()  # commands, by name
        self.redis_trips = 0  # network round trips (a pipeline is one)

    def per_run(self, runs: int) -> dict[str, Any]:
        return {
            "sql statements": sum(self.sql.values()) / runs,
            "sql by kind": {k: round(v / runs, 2) for k, v in sorted(self.sql.items())},
            "transactions": self.transactions / runs,
            "sqlite thread hops": self.sqlite_hops / runs,
            "redis round trips": self.redis_trips / runs,
            "redis by command": {k: round(v / runs, 2) for k, v in sorted(self.redis.items())},
        }


@contextlib.contextmanager
def counting(db: Any) -> Iterator[Counts]:
    """Count on ``db``'s engines and on every Redis client and aiosqlite connection."""
    import aiosqlite.core
    import redis.asyncio.client as rc

    counts = Counts()
    engines = {id(e): e.sync_engine for e in (db.engine, getattr(db, "write_engine", db.engine))}
    inline = getattr(db, "inline", None)  # SQLite statements run on the loop's thread
    if inline is not None:
        engines[id(inline)] = inline.engine

    def on_statement(conn, cursor, statement, parameters, context, executemany) -> None:
        kind = statement.split(None, 1)[0].upper()
        if kind != "BEGIN":  # SQLite's BEGIN IMMEDIATE: counted as a transaction
            counts.sql[kind] += 1

    def on_begin(conn) -> None:
        options = conn.get_execution_options()
        if options.get("isolation_level") != "AUTOCOMMIT" and not options.get(
            "bifrost_single_statement"
        ):
            counts.transactions += 1

    originals = {
        "redis": rc.Redis.execute_command,
        "pipe": rc.Pipeline.execute,
        "pubsub": rc.PubSub.execute_command,
        "hop": aiosqlite.core.Connection._execute,
    }

    async def redis_command(self, *args, **options):
        counts.redis[str(args[0]).upper()] += 1
        counts.redis_trips += 1
        return await originals["redis"](self, *args, **options)

    async def pipe_execute(self, raise_on_error: bool = True):
        for args, _ in self.command_stack:
            counts.redis[str(args[0]).upper()] += 1
        counts.redis_trips += 1
        return await originals["pipe"](self, raise_on_error)

    async def pubsub_command(self, *args):
        counts.redis[str(args[0]).upper()] += 1
        counts.redis_trips += 1
        return await originals["pubsub"](self, *args)

    async def hop(self, fn, *args, **kwargs):
        counts.sqlite_hops += 1
        return await originals["hop"](self, fn, *args, **kwargs)

    for engine in engines.values():
        event.listen(engine, "before_cursor_execute", on_statement)
        event.listen(engine, "begin", on_begin)
    rc.Redis.execute_command = redis_command
    rc.Pipeline.execute = pipe_execute
    rc.PubSub.execute_command = pubsub_command
    aiosqlite.core.Connection._execute = hop
    try:
        yield counts
    finally:
        rc.Redis.execute_command = originals["redis"]
        rc.Pipeline.execute = originals["pipe"]
        rc.PubSub.execute_command = originals["pubsub"]
        aiosqlite.core.Connection._execute = originals["hop"]
        for engine in engines.values():
            event.remove(engine, "before_cursor_execute", on_statement)
            event.remove(engine, "begin", on_begin)
