"""SQLite for the asyncio engine without aiosqlite: statements run on the event loop's thread.

Why: a statement on a local SQLite file takes microseconds. aiosqlite hands every call
(cursor, execute, fetch, close) to a worker thread and back, and SQLAlchemy's adapter for it
turns each into a greenlet switch and a coroutine on top; one answer made some twenty such
hops, more than the statements cost (bench/service_steps.py, README "Figures"). So the engine
uses SQLAlchemy's own synchronous dialect for sqlite3, which its greenlets run as they are.

The one call that can take long is waiting for another process's write lock (an operator's
`coach export` while the bot runs). SQLite never waits on the loop's thread (its busy timeout
is 0); a busy statement is tried again, with the busy timeout, on a worker thread while the
loop goes on serving everyone else.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.util.concurrency import await_only, in_greenlet

BUSY_TIMEOUT_MS = 30_000
DRIVER = "coach_inline"  # the URL's driver name for this dialect: sqlite+coach_inline:///FILE


def _busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _patiently(connection: sqlite3.Connection, call: Callable[[], Any]) -> Any:
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    try:
        return call()
    finally:
        connection.execute("PRAGMA busy_timeout=0")


def _now_or_when_free(connection: sqlite3.Connection, call: Callable[[], Any]) -> Any:
    """Runs the call at once; if the database is busy, again once it is free. Nothing was
    done by the failed try, so trying again is safe. Every statement of the async engine
    runs inside SQLAlchemy's greenlet, so the wait goes to a thread; elsewhere it blocks."""
    try:
        return call()
    except sqlite3.OperationalError as exc:
        if not _busy(exc):
            raise
    if in_greenlet():
        return await_only(asyncio.to_thread(_patiently, connection, call))
    return _patiently(connection, call)


class Cursor(sqlite3.Cursor):
    """sqlite3's cursor, waiting off the loop when the database is busy. Rows are read from
    SQLite as a result is consumed, within its transaction, as every caller here does."""

    async def _async_soft_close(self) -> None:
        """What SQLAlchemy's asyncio results call on an adapted cursor after a statement:
        nothing is left to release here."""

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor:
        run = partial(sqlite3.Cursor.execute, self, sql, parameters)
        return _now_or_when_free(self.connection, run)

    def executemany(self, sql: str, rows: Iterable[Any], /) -> Cursor:
        run = partial(sqlite3.Cursor.executemany, self, sql, list(rows))  # a retry reuses them
        return _now_or_when_free(self.connection, run)


class Connection(sqlite3.Connection):
    def cursor(self, factory: Any = Cursor) -> Any:  # type: ignore[override]
        return sqlite3.Connection.cursor(self, factory)

    def commit(self) -> None:
        _now_or_when_free(self, partial(sqlite3.Connection.commit, self))


def connect(path: str) -> Connection:
    """For the engine's `creator`. Made on the loop's thread and used there; only a wait for
    the lock moves to a worker thread, while the loop leaves this connection alone (its
    session is waiting for that call): hence check_same_thread=False."""
    return sqlite3.connect(path, timeout=0, check_same_thread=False, factory=Connection)


async def _nothing() -> None:
    return None


def _hand_over() -> None:
    """SQLAlchemy's AsyncConnection.execute insists that a statement awaited something
    (it catches sync drivers used by mistake). One coroutine that finishes at once: a
    greenlet switch and back, never a turn of the event loop."""
    if in_greenlet():
        await_only(_nothing())


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """The sqlite3 dialect, declared usable by the asyncio engine: its calls never block
    the loop for longer than a statement, and it never awaits anything but a busy lock."""

    driver = DRIVER
    is_async = True
    supports_statement_cache = True

    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        _hand_over()
        cursor.execute(statement, parameters)

    def do_execute_no_params(self, cursor: Any, statement: str, context: Any = None) -> None:
        _hand_over()
        cursor.execute(statement)

    def do_executemany(
        self, cursor: Any, statement: str, parameters: Any, context: Any = None
    ) -> None:
        _hand_over()
        cursor.executemany(statement, parameters)

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        # As SQLAlchemy's aiosqlite dialect: a pool for files; one shared connection for a
        # database in memory, which exists only as long as its connection does.
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        return pool.StaticPool


registry.register(f"sqlite.{DRIVER}", __name__, "InlineSQLiteDialect")
