"""How fast due reminders become sent nudges, N clients whose daily nudge is due in the same
minute, measured two ways:

1. Unthrottled: the dispatcher alone, with a sender that does nothing, so it measures
   claiming, content choice, rows and bookkeeping. Goal: at least 1,000 nudges/s.
2. Paced: the real `coach run` process, polling the fake Bot API on loopback, sending at
   Telegram's 30 messages/s (nudges.max_per_second: 30), while one client does thought records
   all through the fan-out. Goals: the achieved rate at least 0.95 of 30/s, and that client's
   replies within 1 s (p95). Also shown: the most nudges that reached the fake in any one
   second (sends are spaced evenly; arrival adds jitter).

    .venv/bin/python bench/fanout.py [--users 10000] [--paced-users 900] [--postgres URL]

With --postgres, each run also goes to PostgreSQL, in scratch databases made beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakebot import FakeBotAPI
from harness import Clients, bot_process, coach_command
from scratch import scratch_database
from service_steps import ANSWERS
from sqlalchemy import insert, text

from bot.dispatcher import Delivery, Dispatcher, NudgeSettings
from flows.replies import Reply
from storage import crypto, migrate
from storage.db import Database
from storage.models import Schedule, User

LIMIT = 30.0  # messages per second Telegram lets a bot send
FIRST_CLIENT = 1_000_000
TALKER = 42  # the client doing thought records during the paced fan-out


class Clock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


class CountingSender:
    def __init__(self) -> None:
        self.sent = 0

    async def send(self, chat_id: int, reply: Reply) -> Delivery:
        self.sent += 1
        return Delivery(ok=True, message_ref=self.sent)


class TimedFake(FakeBotAPI):
    """The fake Bot API, noting when each message to a seeded client arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.nudge_times: list[float] = []

    def _store_bot_message(self, method: str, params: dict[str, Any], *args: Any) -> Any:
        if self._chat_id(params) >= FIRST_CLIENT:
            self.nudge_times.append(time.perf_counter())
        return super()._store_bot_message(method, params, *args)


async def seed(url: str, users: int, due: datetime) -> None:
    db = Database(url)
    await migrate.upgrade(db)
    async with db.transaction() as session:
        await session.execute(
            insert(User),
            [
                {"telegram_id": FIRST_CLIENT + n, "timezone": "UTC", "created_at": due}
                for n in range(users)
            ],
        )
    async with db.transaction() as session:
        await session.execute(
            insert(Schedule),
            [
                {
                    "user_id": n + 1, "kind": "compassion", "days": 0b1111111,
                    "local_time": f"{due:%H:%M}", "active": True,
                    "next_due_at": due, "next_send_at": due, "created_at": due,
                }
                for n in range(users)
            ],
        )  # fmt: skip
    if db.is_postgres:  # planner statistics, as autovacuum keeps them on a live database
        async with db.engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
            await connection.commit()
    await db.dispose()


async def unthrottled(url: str, users: int) -> str:
    due = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    await seed(url, users, due)
    db = Database(url)
    sender = CountingSender()
    dispatcher = Dispatcher(db, Clock(due), sender, NudgeSettings(max_per_second=1e9, batch=500))
    started = time.perf_counter()
    while sender.sent < users:
        await dispatcher.tick()
    elapsed = time.perf_counter() - started
    await db.dispose()
    return f"{users:>7} {elapsed:>8.2f} {users / elapsed:>9.0f}"


async def talk(clients: Clients, done: Callable[[], bool]) -> None:
    """Thought records, one answer after each reply, until the fan-out is over."""
    while not done():
        await clients.record(TALKER, ANSWERS)


def busiest_second(times: list[float]) -> int:
    """The most messages sent within any one second (a sliding window)."""
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def paced(url: str, users: int, folder: Path) -> str:
    key = crypto.generate_key()
    await seed(url, users, datetime.now(UTC) - timedelta(minutes=1))
    async with TimedFake() as fake:
        config = fake.config_file(folder, url, key, tick_seconds=1, max_per_second=LIMIT)
        async with bot_process(fake, *coach_command(config)):
            clients = Clients(fake)
            talker = asyncio.create_task(talk(clients, lambda: len(fake.nudge_times) >= users))
            await fake.wait_until(lambda: len(fake.nudge_times) >= users, timeout=users)
            await talker
    times = fake.nudge_times
    rate = (len(times) - 1) / (times[-1] - times[0])
    p95 = statistics.quantiles(clients.latencies, n=20)[-1] * 1000
    return (
        f"{len(times):>7} {times[-1] - times[0]:>8.2f} {rate:>9.1f} {rate / LIMIT:>8.2f} "
        f"{busiest_second(times):>8} {len(clients.latencies):>8} {p95:>8.0f}"
    )


@asynccontextmanager
async def databases(server: str | None, label: str, tmp: Path) -> AsyncIterator[list[tuple]]:
    """(name, URL) of an empty SQLite file and, given a server, a scratch PostgreSQL one."""
    sqlite = ("SQLite", f"sqlite+aiosqlite:///{tmp / f'{label}.db'}")
    if server is None:
        yield [sqlite]
        return
    async with scratch_database(server, label) as url:
        yield [sqlite, ("PostgreSQL", url)]


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--paced-users", type=int, default=900)
    parser.add_argument("--postgres", help="postgresql+asyncpg:// URL of a database on a server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("Unthrottled: the dispatcher alone")
        print(f"{'database':<11} {'nudges':>7} {'seconds':>8} {'nudges/s':>9}")
        async with databases(args.postgres, "fanout", folder) as targets:
            for name, url in targets:
                print(f"{name:<11} {await unthrottled(url, args.users)}", flush=True)
        print(f"\nPaced at {LIMIT:.0f}/s: `coach run`, one client doing thought records meanwhile")
        print(
            f"{'database':<11} {'nudges':>7} {'seconds':>8} {'nudges/s':>9} {'of 30/s':>8} "
            f"{'max/1 s':>8} {'replies':>8} {'p95 ms':>8}"
        )
        async with databases(args.postgres, "paced", folder) as targets:
            for name, url in targets:
                print(f"{name:<11} {await paced(url, args.paced_users, folder)}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
