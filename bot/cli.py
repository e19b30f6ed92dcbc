"""`coach`: run the bot, chat with it in a terminal, or migrate its database."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from bot.config import Config, ConfigError, load_config, require_token

DEFAULT_CONFIG = Path("config.yaml")


def _config_path(given: str | None) -> Path | None:
    if given is not None:
        return Path(given)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coach", description="Homework Coach, a CBT homework bot")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the Telegram bot (long polling)")
    chat = sub.add_parser("chat", help="talk to the bot in this terminal; no Telegram needed")
    chat.add_argument(
        "--user-id", type=int, default=0, help="whose data to use (default 0: the terminal user)"
    )
    db = sub.add_parser("db", help="database tasks")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply migrations up to the newest schema")
    for command in (run, chat, upgrade):
        command.add_argument(
            "--config", help="YAML config file (default: ./config.yaml if present, else defaults)"
        )
    return parser


async def _run(config: Config) -> None:
    from bot.runner import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(config, stop)


async def _chat(config: Config, user_id: int) -> None:
    from bot.runner import open_service
    from bot.terminal import run_chat

    async with open_service(config) as service:
        await run_chat(service, user_id, sys.stdin, sys.stdout, config.nudges.tick_seconds)


async def _upgrade(config: Config) -> None:
    from storage import migrate
    from storage.db import Database

    db = Database(config.database.url)
    try:
        await migrate.upgrade(db)
        print(f"database is at revision {await migrate.current(db)}")
    finally:
        await db.dispose()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(_config_path(args.config))
        if args.command == "run":
            require_token(config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    from bot.runner import setup_logging

    if args.command == "chat":
        setup_logging("WARNING" if config.logging.level == "INFO" else config.logging.level)
        asyncio.run(_chat(config, args.user_id))
    elif args.command == "run":
        setup_logging(config.logging.level)
        asyncio.run(_run(config))
    else:
        setup_logging(config.logging.level)
        asyncio.run(_upgrade(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
