"""SQLite connections that run statements on the event loop's own thread.

Why: a statement on a local SQLite file takes microseconds, but aiosqlite hands every call
(cursor, execute, fetch, close) to a worker thread and back, about 0.1 ms each and, under
load, a wait for the GIL on top; one answer made some twenty such hops. Measured in
bench/throughput.py (README "Figures"). The only call that can take long is waiting for
another process's write lock (`coach export` while the bot runs), so that alone goes to the
worker thread, with the busy timeout, while the loop keeps serving everyone else.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite

BUSY_TIMEOUT_MS = 30_000


def _busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection with its calls made inline; a busy database is waited for on
    aiosqlite's thread. SQLite never waits on the loop's thread: its busy timeout is 0."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._connection is None or not self._running:
            return await super()._execute(fn, *args, **kwargs)  # closing: as aiosqlite does
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
        # Another process holds the write lock. Nothing was done, so try again off the loop.
        return await super()._execute(self._waiting, partial(fn, *args, **kwargs))

    def _waiting(self, call: Callable[[], Any]) -> Any:
        connection = self._conn
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        try:
            return call()
        finally:
            connection.execute("PRAGMA busy_timeout=0")


async def connect(path: str) -> InlineConnection:
    """For SQLAlchemy's `async_creator`. The connection is made on aiosqlite's thread (as
    aiosqlite does) and used from the loop's: hence check_same_thread=False. Calls never
    overlap: a connection belongs to one session at a time."""
    connection = InlineConnection(
        partial(sqlite3.connect, path, timeout=0, check_same_thread=False), iter_chunk_size=64
    )
    connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite: never block exit
    return await connection
