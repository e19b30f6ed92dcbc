"""Start-up and shut-down, shared by `coach run` and the end-to-end tests."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from telegram import Update

from bot.clock import Clock, SystemClock
from bot.config import Config
from bot.dispatcher import Dispatcher
from bot.service import CoachService
from bot.settings import Settings
from bot.telegram_app import (
    TelegramSender,
    announce_commands,
    build_application,
    schedule_nudges,
    stop_nudges,
)
from storage import migrate
from storage.db import Database

log = logging.getLogger(__name__)

# Libraries whose DEBUG/INFO lines carry request bodies, update contents or the bot token in
# URLs. They stay at WARNING whatever logging.level says: logs never hold what clients wrote.
NOISY_LOGGERS = ("telegram", "httpx", "httpcore", "apscheduler", "aiosqlite", "asyncio")


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))


@asynccontextmanager
async def open_service(config: Config, clock: Clock | None = None) -> AsyncIterator[CoachService]:
    """The database migrated to head and the service on it; disposed on exit."""
    db = Database(config.database.url)
    try:
        await migrate.upgrade(db)
        yield CoachService(db, clock or SystemClock(), Settings.from_config(config))
    finally:
        await db.dispose()


async def serve(
    config: Config,
    stop: asyncio.Event,
    clock: Clock | None = None,
    started: asyncio.Future[Dispatcher] | None = None,
) -> None:
    """Runs the Telegram bot (long polling) and the nudge tick until `stop` is set, then stops
    cleanly: updates and sends in flight finish before the database is closed. `started`
    receives the dispatcher once everything runs (tests wait on its ticks)."""
    async with open_service(config, clock) as service:
        app = build_application(config, service)
        dispatcher = Dispatcher(
            service.db, service.clock, TelegramSender(app.bot), service.settings.nudges
        )
        schedule_nudges(app, dispatcher, config.nudges.tick_seconds)
        async with app:
            await announce_commands(app)
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(
                poll_interval=0.0,
                timeout=int(config.telegram.poll_timeout),
                allowed_updates=Update.ALL_TYPES,
            )
            log.info("bot @%s is running (polling)", app.bot.username)
            if started is not None:
                started.set_result(dispatcher)
            asyncio.create_task(service.warm_up())  # noqa: RUF006 - best effort, may be dropped
            await stop.wait()
            log.info("stopping")
            await stop_nudges(app)
            await app.updater.stop()
            await app.stop()
