"""Start-up and shut-down, shared by `coach run` and the end-to-end tests."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.engine import make_url
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
from bot.webhook import WebhookServer
from storage import crypto, migrate
from storage.db import Database

log = logging.getLogger(__name__)

# Libraries whose DEBUG/INFO lines carry request bodies, update contents or the bot token in
# URLs. They stay at WARNING whatever logging.level says: logs never hold what clients wrote.
NOISY_LOGGERS = (
    "telegram", "aiohttp", "httpx", "httpcore", "apscheduler", "asyncio",
)  # fmt: skip


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def key_file_path(config: Config) -> Path:
    """Where the data key lives when none is configured: beside the SQLite file, or here."""
    if config.security.key_file:
        return Path(config.security.key_file)
    url = make_url(config.database.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).with_suffix(".key")
    return Path("coach.key")


def setup_encryption(config: Config) -> None:
    """Configured keys, else the key file (made on first start, and said so, once)."""
    keys = [k for k in config.security.data_key.split(",") if k.strip()]
    if not keys:
        path = key_file_path(config)
        key, created = crypto.load_or_create_key_file(path)
        if created:
            log.warning(
                "created a data key at %s (readable by you only). Back it up with the "
                "database: without it, what clients wrote cannot be read.",
                path,
            )
        keys = [key]
    crypto.configure(keys)


@asynccontextmanager
async def open_service(config: Config, clock: Clock | None = None) -> AsyncIterator[CoachService]:
    """The database migrated to head and the service on it; disposed on exit."""
    setup_encryption(config)
    db = Database(config.database.url)
    try:
        await migrate.upgrade(db)
        yield CoachService(db, clock or SystemClock(), Settings.from_config(config))
    finally:
        await db.dispose()


async def _settle(service: CoachService) -> None:
    """Once the start-up's long-lived objects exist (modules, the city table), the cycle
    collector stops walking them. Its full passes otherwise walked every one of them, some
    200,000, pausing the whole bot for 40-130 ms each (seen under bench/throughput.py)."""
    await service.warm_up()
    gc.freeze()


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
        webhook: WebhookServer | None = None
        async with app:
            await announce_commands(app)
            await app.start()
            if config.telegram.mode == "webhook":
                webhook = WebhookServer(app, config.telegram.webhook, service.db.healthy)
                await webhook.start()
                hook = config.telegram.webhook
                await app.bot.set_webhook(
                    url=hook.public_url.rstrip("/") + hook.path,
                    secret_token=hook.secret_token,
                    max_connections=hook.max_connections,
                    allowed_updates=Update.ALL_TYPES,
                )
                log.info("bot @%s is running (webhook)", app.bot.username)
            else:
                assert app.updater is not None
                await app.updater.start_polling(
                    poll_interval=0.0,
                    timeout=int(config.telegram.poll_timeout),
                    allowed_updates=Update.ALL_TYPES,
                )
                log.info("bot @%s is running (polling)", app.bot.username)
            asyncio.create_task(_settle(service))  # noqa: RUF006 - best effort, may be dropped
            if started is not None:
                started.set_result(dispatcher)
            await stop.wait()
            log.info("stopping: finishing updates and sends in flight")
            if webhook is not None:
                await webhook.stop()  # the webhook stays registered: Telegram keeps updates
            elif app.updater is not None:
                await app.updater.stop()
            await stop_nudges(app)
            await app.stop()
    gc.unfreeze()  # in a process that goes on (tests, an embedding), collected as before
