"""How fast the dispatcher turns due reminders into sent nudges: N users whose daily nudge is
due in the same minute. The sender does nothing (it measures the dispatcher: claiming,
content choice, rows, bookkeeping), first unthrottled, then paced at the bot's bulk rate.

    .venv/bin/python bench/fanout.py [--users 10000] [--postgres URL-of-an-empty-db]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from bot.dispatcher import Delivery, Dispatcher, NudgeSettings
from flows.replies import Reply
from storage import migrate
from storage.db import Database
from storage.models import Schedule, User

DUE = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.current = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current


class CountingSender:
    def __init__(self) -> None:
        self.sent = 0

    async def send(self, chat_id: int, reply: Reply) -> Delivery:
        self.sent += 1
        return Delivery(ok=True, message_ref=self.sent)


async def seed(db: Database, users: int) -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    async with db.transaction() as session:
        await session.execute(
            insert(User),
            [
                {"telegram_id": 1_000_000 + n, "timezone": "Europe/London", "created_at": now}
                for n in range(users)
            ],
        )
    async with db.transaction() as session:
        await session.execute(
            insert(Schedule),
            [
                {
                    "user_id": n + 1,
                    "kind": "compassion",
                    "days": 0b1111111,
                    "local_time": "09:00",
                    "active": True,
                    "next_due_at": DUE,
                    "next_send_at": DUE,
                    "created_at": now,
                }
                for n in range(users)
            ],
        )


async def run(url: str, users: int, rate: float) -> tuple[float, int]:
    db = Database(url)
    await migrate.upgrade(db)
    await seed(db, users)
    clock, sender = Clock(), CountingSender()
    clock.current = DUE
    dispatcher = Dispatcher(db, clock, sender, NudgeSettings(max_per_second=rate, batch=500))
    started = time.perf_counter()
    while sender.sent < users:
        await dispatcher.tick()
    elapsed = time.perf_counter() - started
    await db.dispose()
    return elapsed, sender.sent


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--paced-users", type=int, default=300)
    parser.add_argument("--postgres", help="postgresql+asyncpg:// URL of an EMPTY database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("SQLite", lambda n: f"sqlite+aiosqlite:///{Path(tmp) / f'f{n}.db'}")]
        if args.postgres:
            targets.append(("PostgreSQL", lambda n: args.postgres))
        print(f"{'database':<11} {'mode':<18} {'nudges':>7} {'seconds':>8} {'nudges/s':>9}")
        for index, (name, url) in enumerate(targets):
            elapsed, sent = await run(url(index * 2), args.users, 1e9)
            print(
                f"{name:<11} {'unthrottled':<18} {sent:>7} {elapsed:>8.2f} {sent / elapsed:>9.0f}"
            )
            if name == "PostgreSQL":
                break  # the paced run needs another empty database; SQLite shows the pacing
            elapsed, sent = await run(url(index * 2 + 1), args.paced_users, 25.0)
            rate = sent / elapsed
            print(f"{name:<11} {'paced at 25/s':<18} {sent:>7} {elapsed:>8.2f} {rate:>9.1f}")


if __name__ == "__main__":
    asyncio.run(main())
