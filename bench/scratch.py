"""Scratch PostgreSQL databases for the benchmarks: each run gets an empty one beside the
database named on the command line (which needs CREATEDB), dropped afterwards."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine


async def _drop_and_create(server_url: str, name: str, create: bool) -> None:
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if create:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


@asynccontextmanager
async def scratch_database(server_url: str, label: str) -> AsyncIterator[str]:
    """The URL of a new, empty database on the same server; dropped on exit."""
    name = f"coach_bench_{label}_{os.getpid()}"
    await _drop_and_create(server_url, name, create=True)
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await _drop_and_create(server_url, name, create=False)
