"""SQLite statements run on the event loop's own thread, when that costs no wait.

aiosqlite runs every call in a thread of its own: one statement through SQLAlchemy's async
adapter is four hand-offs to that thread and back (cursor, execute, close, rollback), and on a
busy 2-core machine each wake-up of a thread waits for a time slice, milliseconds at a load of 10.
The statements of an execution's hot path (create, claim, finish: one each) take tens of
microseconds in SQLite itself, so they run here, synchronously, on a connection that never waits
for the write lock (``busy_timeout`` 0): when another writer holds it, :meth:`InlineSQLite.run`
says so and the caller goes through the thread, which waits as every other write does. The loop
is never blocked by a wait, only by the statement itself.

This connection never checkpoints the WAL at its commits (a checkpoint may fsync, on the loop);
it counts its writes and has a passive checkpoint run through the thread every so often.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from sqlalchemy import Executable, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import SingletonThreadPool

CHECKPOINT_EVERY = 500  # inline writes between two passive checkpoints (about 1000 WAL pages)
_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


class InlineSQLite:
    def __init__(self, url: URL, single_statement_option: str) -> None:
        """``url``: the synchronous (pysqlite) URL of the database file."""
        # One connection per thread, each used only by the thread that opened it.
        self.engine = create_engine(url, poolclass=SingletonThreadPool).execution_options(
            **{single_statement_option: True}
        )
        self.writes = 0
        self._loop_thread: int | None = None

        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_conn, _record) -> None:
            dbapi_conn.isolation_level = None  # each statement commits by itself
            for pragma in (
                "journal_mode=WAL",
                "synchronous=NORMAL",
                "foreign_keys=ON",
                "busy_timeout=0",  # never wait on the loop: report the lock instead
                "wal_autocheckpoint=0",  # see due_checkpoint()
            ):
                dbapi_conn.execute(f"PRAGMA {pragma}")

    def run(self, statement: Executable, values: dict[str, Any] | None = None) -> int | None:
        """The rows ``statement`` changed, or None if another writer holds the lock (or this
        is not the thread of the first call): the caller must then run it through the thread."""
        here = threading.get_ident()
        if self._loop_thread is None:
            self._loop_thread = here
        elif here != self._loop_thread:
            return None
        try:
            with self.engine.connect() as conn:
                options = {"preserve_rowcount": True}
                changed = conn.execute(statement, values, execution_options=options).rowcount
                conn.commit()
        except OperationalError as exc:
            if (getattr(exc.orig, "sqlite_errorcode", 0) & 0xFF) in _BUSY:  # primary code
                return None
            raise
        self.writes += 1
        return changed

    def due_checkpoint(self) -> bool:
        """True once every CHECKPOINT_EVERY writes: the caller runs ``PRAGMA
        wal_checkpoint(PASSIVE)`` off the loop."""
        return self.writes % CHECKPOINT_EVERY == 0

    def close(self) -> None:
        self.engine.dispose()
