"""Engine and sessions. SQLite gets WAL and immediate transactions so concurrent users queue
politely instead of failing with "database is locked"."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from functools import partial
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage import sqlite_connection

_TRY_LOCK = text("SELECT pg_try_advisory_lock(:key)")
_UNLOCK = text("SELECT pg_advisory_unlock(:key)")


def create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ":memory:"
        engine = create_async_engine(
            parsed.set(drivername=f"sqlite+{sqlite_connection.DRIVER}"),
            creator=partial(sqlite_connection.connect, path),
        )
        _tune_sqlite(engine)
        return engine
    # No pool_pre_ping: its round trip on every checkout cost PostgreSQL about 12% of its
    # updates/s (bench/throughput.py). A connection that died with a server restart is found
    # on first use instead; SQLAlchemy then drops every pooled connection made before it,
    # and callers try once more (`stale_connection`).
    return create_async_engine(url)


def _tune_sqlite(engine: AsyncEngine) -> None:
    """WAL lets readers run beside a writer; BEGIN IMMEDIATE takes the write lock up front,
    so two transactions never deadlock upgrading from read to write."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Straight to the driver: SQLAlchemy's own statement path costs more than the BEGIN.
        cursor = connection.connection.dbapi_connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        cursor.close()


def stale_connection(exc: BaseException) -> bool:
    """A pooled connection found dead (the server restarted, or ended it). Nothing done on
    it can have been committed, and the pool has already let go of its others."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class Database:
    """One engine and its session factory, shared by everything in a process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time. Queueing in-process (first come, first served) is
        # fairer and faster than every transaction polling the file lock.
        self._sqlite_turn = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed when the block ends, rolled back on error."""
        turn: AbstractAsyncContextManager[object] = self._sqlite_turn or nullcontext()
        async with turn, self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def exclusive(self, key: int) -> AsyncIterator[bool]:
        """Whether this process alone holds `key` among every process on this PostgreSQL
        database, for the block: a session advisory lock on a connection of its own, let go
        at the end, or by PostgreSQL when the process dies. Another holder means False, at
        once. SQLite is served by one process: always True."""
        if not self.is_postgres:
            yield True
            return
        async with self.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            held = bool(await connection.scalar(_TRY_LOCK, {"key": key}))
            try:
                yield held
            finally:
                if held:
                    try:
                        await connection.execute(_UNLOCK, {"key": key})
                    except BaseException as exc:
                        # Broken (PostgreSQL restarted, say) or cancelled: never back to the
                        # pool still holding the lock. Closed, the lock goes with it.
                        await connection.invalidate()
                        if not isinstance(exc, Exception):
                            raise

    async def healthy(self) -> bool:
        """True when a query goes through (for /healthz and `coach check`): on a fresh
        connection if a pooled one turns out dead."""
        for attempt in (1, 2):
            try:
                async with self.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
            except Exception as exc:
                if attempt == 1 and stale_connection(exc):
                    continue
                return False
            return True
        return False

    async def dispose(self) -> None:
        await self.engine.dispose()
