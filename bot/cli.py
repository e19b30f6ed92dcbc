"""`coach`: run the bot, chat with it in a terminal, or migrate its database."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.config import Config, ConfigError, load_config, require_token, require_webhook

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
    invite = sub.add_parser("invite", help="invite codes for access.mode: invite")
    invite_sub = invite.add_subparsers(dest="invite_command", required=True)
    create = invite_sub.add_parser("create", help="make a code and print its t.me link")
    create.add_argument("--uses", type=int, default=1, help="how many people it admits (0: any)")
    create.add_argument("--expires", default="14d", help="lifetime like 7d, 12h, 30m (0: never)")
    check = sub.add_parser("check", help="validate config, database connection and migrations")
    exporter = sub.add_parser("export", help="write one client's data as files, for them")
    exporter.add_argument("--user", type=int, required=True, help="their Telegram user id")
    exporter.add_argument("--out", required=True, help="folder to write the files into")
    exporter.add_argument("--days", type=int, default=0, help="only the last N days (0: all)")
    keys = sub.add_parser("keys", help="data encryption keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_sub.add_parser("new", help="print a new key (put it first in COACH_DATA_KEY)")
    rotate = keys_sub.add_parser("rotate", help="re-encrypt everything with the first key")
    for command in (run, chat, upgrade, create, rotate, exporter, check):
        command.add_argument(
            "--config", help="YAML config file (default: ./config.yaml if present, else defaults)"
        )
    return parser


def _run_forever(main: Coroutine[Any, Any, None]) -> None:
    """The bot's own event loop: uvloop where it is installed (everywhere but Windows), the
    same asyncio with the loop's work done in C. The coach spends a tenth or more of its
    time in the loop itself, sockets and timers (bench/throughput.py; README "Figures")."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


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


def _lifetime(text: str) -> timedelta | None:
    """`7d`, `12h`, `30m` → timedelta; `0` → None (never expires)."""
    if text.strip() == "0":
        return None
    units = {"d": "days", "h": "hours", "m": "minutes"}
    number, unit = text[:-1], text[-1:].lower()
    if unit not in units or not number.isdecimal():
        raise ConfigError(f"--expires {text}: use a number and d, h or m, like 7d")
    return timedelta(**{units[unit]: int(number)})


async def _invite(config: Config, uses: int, expires: timedelta | None) -> None:
    import secrets

    from bot.runner import open_service
    from storage import repo

    async with open_service(config) as service:
        now = service.clock.now()
        code = secrets.token_urlsafe(9)
        async with service.db.transaction() as session:
            await repo.create_invite(
                session, code, uses or None, now + expires if expires else None, now
            )
    bot = config.telegram.bot_username.lstrip("@") or "<your_bot_username>"
    limit = f"{uses} use{'s' if uses != 1 else ''}" if uses else "any number of uses"
    until = f"until {(now + expires):%Y-%m-%d %H:%M} UTC" if expires else "no expiry"
    print(f"invite code: {code} ({limit}, {until})")
    print(f"link to send: https://t.me/{bot}?start={code}")
    if config.access.mode != "invite":
        print("note: access.mode is not 'invite' yet, so anyone can use the bot anyway")


async def _export(config: Config, telegram_id: int, days: int) -> list[tuple[str, bytes]] | None:
    from bot.progress import export_files
    from bot.runner import open_service
    from bot.turn import TurnBase
    from storage import repo

    async with open_service(config) as service, service.db.transaction() as session:
        user = await repo.find_user(session, telegram_id)
        if user is None:
            return None
        turn = TurnBase(service, session, user, service.clock.now())
        return await export_files(turn, days or None)


def _write_export(files: list[tuple[str, bytes]] | None, telegram_id: int, out: Path) -> int:
    if files is None:
        print(f"no client with Telegram id {telegram_id} in this database", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files:
        (out / name).write_bytes(data)
        print(f"wrote {out / name}")
    return 0


async def _check(config: Config) -> int:
    """Says what it finds, line by line; exit 0 only when the bot could start and serve."""
    from sqlalchemy.engine import make_url

    from bot.runner import key_file_path
    from storage import migrate
    from storage.db import Database

    problems = 0
    url = make_url(config.database.url)
    print(f"config: ok (mode {config.telegram.mode}, access {config.access.mode})")
    print(f"telegram token: {'set' if config.telegram.token else 'NOT SET (coach run needs it)'}")
    problems += not config.telegram.token
    if config.telegram.mode == "webhook":
        hook = config.telegram.webhook
        print(f"webhook: {hook.public_url}{hook.path} (listening on {hook.listen}:{hook.port})")
    db = Database(config.database.url)
    try:
        if await db.healthy():
            print(f"database: reachable ({url.render_as_string(hide_password=True)})")
            current, head = await migrate.current(db), migrate.head()
            state = "up to date" if current == head else f"at {current}, newest is {head}"
            print(f"migrations: {state}{'' if current == head else ' (coach db upgrade)'}")
            problems += current != head
        else:
            print(f"database: NOT REACHABLE ({url.render_as_string(hide_password=True)})")
            problems += 1
    finally:
        await db.dispose()
    if config.security.data_key:
        print("data key: from config / COACH_DATA_KEY")
    else:
        path = key_file_path(config)
        print(f"data key: file {path} ({'present' if path.exists() else 'made on first start'})")
    print("all good" if not problems else f"{problems} problem(s) found")
    return 1 if problems else 0


async def _rotate(config: Config) -> None:
    from bot.runner import setup_encryption
    from storage.db import Database
    from storage.rotation import rotate_all

    setup_encryption(config)
    db = Database(config.database.url)
    try:
        async with db.engine.begin() as connection:
            changed = await rotate_all(connection)
    finally:
        await db.dispose()
    print(f"re-encrypted {changed} stored values with the first key")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "keys" and args.keys_command == "new":
        from storage.crypto import generate_key

        print(generate_key())
        return 0
    try:
        config = load_config(_config_path(args.config))
        if args.command == "run":
            require_token(config)
            require_webhook(config)
        lifetime = _lifetime(args.expires) if args.command == "invite" else None
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    from bot.runner import setup_logging
    from storage.crypto import DataKeyError

    quiet = "WARNING" if config.logging.level == "INFO" else config.logging.level
    setup_logging(config.logging.level if args.command == "run" else quiet)
    try:
        if args.command == "chat":
            asyncio.run(_chat(config, args.user_id))
        elif args.command == "run":
            _run_forever(_run(config))
        elif args.command == "invite":
            asyncio.run(_invite(config, args.uses, lifetime))
        elif args.command == "keys":
            asyncio.run(_rotate(config))
        elif args.command == "check":
            return asyncio.run(_check(config))
        elif args.command == "export":
            files = asyncio.run(_export(config, args.user, args.days))
            return _write_export(files, args.user, Path(args.out))
        else:
            asyncio.run(_upgrade(config))
    except DataKeyError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
