"""Alembic environment: runs on a connection the app hands over, or on sqlalchemy.url."""

import asyncio

from alembic import context

from storage.db import create_engine
from storage.models import Base

config = context.config


def _run(connection):
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_url(url):
    engine = create_engine(url)  # as the app's own: SQLite's driver and settings included
    async with engine.begin() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_from_url(config.get_main_option("sqlalchemy.url")))
