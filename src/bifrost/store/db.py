"""Engines and sessions for the two back ends: an embedded SQLite file or PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Executable, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bifrost.errors import Unavailable
from bifrost.settings import Settings
from bifrost.store.inline import InlineSQLite

log = logging.getLogger(__name__)

_DRIVERS = {"postgresql": "psycopg", "postgres": "psycopg", "sqlite": None}
SINGLE_STATEMENT = "bifrost_single_statement"


def database_url(settings: Settings, *, asynchronous: bool) -> URL:
    """The SQLAlchemy URL for the configured database, choosing the driver for the user.

    Users write plain ``postgresql://user@host/db`` URLs; which driver runs them is our business.
    """
    if settings.database_url is None:
        path = (settings.data_dir / "bifrost.db").resolve()
        return make_url(f"sqlite+{'aiosqlite' if asynchronous else 'pysqlite'}:///{path}")
    url = make_url(settings.database_url.get_secret_value())
    backend = url.get_backend_name()
    if backend not in _DRIVERS:
        raise ValueError(
            f"BIFROST_DATABASE_URL must be a postgresql:// or sqlite:// URL, not {backend}://"
        )
    if backend == "sqlite":
        return url.set(drivername="sqlite+aiosqlite" if asynchronous else "sqlite+pysqlite")
    return url.set(drivername="postgresql+psycopg")


def _tune_sqlite(engine: Engine, *, immediate: bool) -> None:
    """WAL lets readers run beside the single writer; NORMAL sync is durable across app crashes.

    Write transactions start with BEGIN IMMEDIATE so two writers queue on the lock instead of
    failing with "database is locked" when both upgrade from a read.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        if conn.get_execution_options().get(SINGLE_STATEMENT):
            return  # Database.statement(): the statement commits by itself
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def _translated() -> Iterator[None]:
    """The database's own errors enter here: a lost connection (or SQLite's lock timeout) becomes
    :class:`Unavailable`. The driver's text is not passed on: it may quote the URL or the SQL."""
    try:
        yield
    except DBAPIError as exc:
        if isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated:
            kind = type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__
            raise Unavailable(f"the database cannot be used right now ({kind}); try again") from exc
        raise


class Database:
    """One async engine and its sessions; ``write()`` gives one serialised write transaction."""

    def __init__(self, settings: Settings) -> None:
        self.url = database_url(settings, asynchronous=True)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            Path(self.url.database or "").parent.mkdir(parents=True, exist_ok=True)
            self.engine: AsyncEngine = create_async_engine(self.url)
            self.write_engine = create_async_engine(self.url)
            _tune_sqlite(self.engine.sync_engine, immediate=False)
            _tune_sqlite(self.write_engine.sync_engine, immediate=True)
        else:
            self.engine = create_async_engine(self.url, pool_size=10, max_overflow=20)
            self.write_engine = self.engine
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        # One statement is atomic on both databases: sent outside BEGIN ... COMMIT it costs one
        # round trip (PostgreSQL) or one call into SQLite's thread, instead of three or four.
        self.single_engine = (
            self.write_engine.execution_options(**{SINGLE_STATEMENT: True})
            if self.is_sqlite
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self.inline = (
            InlineSQLite(database_url(settings, asynchronous=False), SINGLE_STATEMENT)
            if self.is_sqlite
            else None
        )
        self._checkpoints: set[asyncio.Task] = set()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        with _translated():
            async with self.sessions() as session:
                yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed on success, rolled back whole on any error."""
        with _translated():
            async with self.write_sessions() as session, session.begin():
                yield session

    async def statement(self, statement: Executable, values: dict[str, Any] | None = None) -> int:
        """Run one statement that commits by itself (no transaction around it), for the hot
        path of an execution: its row is created, claimed and finished by one statement each.
        Only for a statement that is a whole unit of work on its own. Returns the rows it
        changed."""
        if self.inline is not None:  # SQLite: on this thread unless another writer has the lock
            with _translated():
                changed = self.inline.run(statement, values)
            if changed is not None:
                if self.inline.due_checkpoint():
                    task = asyncio.create_task(self._checkpoint())
                    self._checkpoints.add(task)
                    task.add_done_callback(self._checkpoints.discard)
                return changed
        with _translated():
            async with self.single_engine.connect() as conn:
                options = {"preserve_rowcount": True}  # an INSERT's too, not only UPDATE's
                return (await conn.execute(statement, values, execution_options=options)).rowcount

    async def _checkpoint(self) -> None:
        """Copy the WAL into the database file in aiosqlite's thread, taking no lock a writer
        waits for (PASSIVE); the inline connection never checkpoints itself."""
        try:
            async with self.single_engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception as exc:  # boundary: the next checkpoint, or any commit, does it
            log.warning("WAL checkpoint failed: %s", exc)

    async def close(self) -> None:
        if self._checkpoints:
            await asyncio.gather(*self._checkpoints, return_exceptions=True)
        if self.inline is not None:
            self.inline.close()
        await self.engine.dispose()
        await self.write_engine.dispose()
