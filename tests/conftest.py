"""Shared fixtures: a real database (SQLite file, and PostgreSQL when COACH_TEST_POSTGRES_URL is
set), a movable clock, and the real bot running against the fake Bot API server."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from fakebot import FakeBotAPI, SentMessage
from sqlalchemy import NullPool, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bot.config import Config
from bot.dispatcher import Dispatcher
from bot.runner import serve
from storage import crypto, repo
from storage.db import Database

POSTGRES_ENV = "COACH_TEST_POSTGRES_URL"
TEST_KEY = crypto.generate_key()  # one data key for the whole test run


@pytest.fixture(autouse=True)
def data_key() -> str:
    """Everything a client writes is encrypted; tests use a key of their own."""
    crypto.configure([TEST_KEY])
    return TEST_KEY


@asynccontextmanager
async def peek(db_url: str) -> AsyncIterator[AsyncSession]:
    """A session of its own on the bot's database, to check what was stored."""
    db = Database(db_url)
    try:
        async with db.transaction() as session:
            yield session
    finally:
        await db.dispose()


async def rows_of(db_url: str, model: type, telegram_id: int | None = None) -> list:
    """Every row of a table, or only one person's, as a test reads them back."""
    async with peek(db_url) as session:
        query = select(model)
        if telegram_id is not None:
            user = await repo.find_user(session, telegram_id)
            assert user is not None, f"no user {telegram_id}"
            query = query.where(model.user_id == user.id)
        return list((await session.execute(query.order_by(model.id))).scalars())


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 3, 10, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


async def end_every_connection(db_url: str) -> int:
    """What a PostgreSQL restart does to every connection a bot has pooled."""
    engine = create_async_engine(db_url, poolclass=NullPool)
    try:
        async with engine.connect() as admin:
            result = await admin.exec_driver_sql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return int(result.scalar_one())
    finally:
        await engine.dispose()


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:
    """A fresh, empty database of each kind; PostgreSQL gets a database of its own per test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'coach.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    name = f"coach_test_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(_admin_dsn(base))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    from storage import migrate

    database = Database(db_url)
    await migrate.upgrade(database)
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server
        assert server.server_errors == [], server.server_errors


class BotHarness:
    """The real bot (Application, polling, database) in this event loop; restartable."""

    def __init__(self, fake: FakeBotAPI, config: Config, clock: FakeClock) -> None:
        self.fake = fake
        self.config = config
        self.clock = clock
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.dispatcher: Dispatcher | None = None

    async def start(self) -> None:
        polls_before = self._polls()
        self._stop = asyncio.Event()
        started: asyncio.Future[Dispatcher] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(serve(self.config, self._stop, self.clock, started))
        await asyncio.wait({self._task, started}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        if self._task.done():
            await self._task  # surfaces the start-up error
        self.dispatcher = started.result()
        await self.fake.wait_until(lambda: self._polls() > polls_before, timeout=20)

    async def settle(self) -> None:
        """Waits for two whole nudge ticks, so whatever the clock now makes due has gone out."""
        assert self.dispatcher is not None
        async with asyncio.timeout(10):
            await self.dispatcher.wait_ticks(2)

    async def stop(self) -> None:
        if self._task is None or self._stop is None:
            return
        self._stop.set()
        await asyncio.wait_for(self._task, timeout=20)
        self._task = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def _polls(self) -> int:
        return sum(1 for method, _ in self.fake.calls if method.lower() == "getupdates")

    async def say(self, user: int, text: str, *, expect: str) -> list[SentMessage]:
        """Sends text as the user; returns the messages sent after it, once one contains
        `expect` (what the user would be looking for on their screen)."""
        before = len(self.fake.messages(user))
        self.fake.send_text(user, text)
        return await self.until(user, before, expect)

    async def tap(self, user: int, button: str, *, expect: str) -> list[SentMessage]:
        """Taps the newest message's button with this label (or data)."""
        message = self.latest_with_button(user, button)
        before = len(self.fake.messages(user))
        self.fake.tap(user, message, button)
        return await self.until(user, before, expect)

    def latest_with_button(self, user: int, button: str) -> SentMessage:
        for message in reversed(self.fake.messages(user)):
            if any(button in (label, data) for label, data in message.buttons()):
                return message
        raise AssertionError(f"no message offers {button!r}; last: {self.fake.messages(user)[-3:]}")

    async def until(self, user: int, before: int, expect: str) -> list[SentMessage]:
        def seen() -> bool:
            return any(expect in (m.text or "") for m in self.fake.messages(user)[before:])

        try:
            await self.fake.wait_until(seen, timeout=15)
        except TimeoutError:
            texts = [m.text for m in self.fake.messages(user)[before:]]
            raise AssertionError(f"expected a reply containing {expect!r}; got {texts}") from None
        return self.fake.messages(user)[before:]


@pytest.fixture
async def bot(fake: FakeBotAPI, db_url: str, clock: FakeClock, caplog) -> AsyncIterator[BotHarness]:
    caplog.set_level(logging.INFO)
    config = Config.model_validate(
        {
            "telegram": {
                "token": FakeBotAPI.TOKEN,
                "base_url": fake.base_url,
                "base_file_url": fake.base_file_url,
                "poll_timeout": 5,
            },
            "database": {"url": db_url},
            "defaults": {"timezone": "Europe/London"},
            "nudges": {"tick_seconds": 0.05},
            "security": {"data_key": TEST_KEY},
        }
    )
    harness = BotHarness(fake, config, clock)
    await harness.start()
    yield harness
    await harness.stop()
    # Every phase: caplog.records alone holds only the teardown's.
    records = [r for when in ("setup", "call", "teardown") for r in caplog.get_records(when)]
    errors = [r for r in records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage()[:200] for r in errors]
