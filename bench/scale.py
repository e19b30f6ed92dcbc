"""Memory and start-up time of the real `coach run` process with 1,000 to 100,000 clients, each
with three reminders (a daily self-compassion break, a walk on Mon/Wed/Fri, a weekly call),
all due some time in the coming week. The goal: start-up under 5 s, and RSS growing by less
than 50 MB from the smallest to the largest size — the database holds the schedules, not the
process.

For each size: a fresh database, migrated and filled with bulk inserts; `coach run` started as
a subprocess against an in-process fake Bot API on loopback (polling). Start-up is timed from
the spawn until the first getUpdates (serving) and until the first dispatcher tick has sent
the one nudge seeded as due (a probe client). Then one client starts a thought record and
answers once, a few ticks pass, RSS (VmRSS) and its peak (VmHWM) are read from /proc, and
SIGTERM must stop the bot with exit code 0. Nothing else falls due during a run: every other
reminder is at least an hour ahead.

    .venv/bin/python bench/scale.py [--sizes 1000,10000,100000] [--postgres URL-of-a-server-db]

With --postgres, each size also runs on PostgreSQL in a scratch database created beside the
one given (it needs CREATEDB) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import signal
import sys
import tempfile
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakebot import FakeBotAPI
from harness import ROOT, clean_env, coach_command
from scratch import scratch_database
from sqlalchemy import Table, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from flows.schedule import EVERY_DAY, Quiet, after_quiet, next_occurrence, parse_days, parse_time
from storage import crypto, migrate
from storage.db import Database
from storage.models import Schedule, User

FIRST_CLIENT = 1_000_000  # telegram ids of the seeded clients
PROBE = 999_999  # a client whose nudge is due at start: the first tick's visible work
ZONES = ("Europe/London", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney")
PEOPLE = ("your kids", "Mum", "my sister", "Dad", "an old friend")
WALK_DAYS = parse_days("mon,wed,fri")
QUIET = Quiet(time(22, 0), time(7, 0))  # a third of the clients keep quiet hours
# Nothing but the probe may fall due while a size is measured.
HORIZON = timedelta(hours=1)
CHUNK = 10_000
TIMEOUT = 120.0
MB = 1024 * 1024
# (what the client says, how many messages the bot answers with)
CONVERSATION = [("/thought", 2), ("Tuesday at work, two mistakes pointed out in a meeting.", 1)]


@dataclass
class Figures:
    users: int
    schedules: int
    seed: float
    serving: float
    first_tick: float
    rss_serving: float
    rss: float
    peak: float

    @property
    def startup(self) -> float:
        return max(self.serving, self.first_tick)


class Planner:
    """next_due_at / next_send_at as the bot computes them (`bot.dispatcher.plan`), from a
    moment HORIZON ahead; cached, since many clients share days, time, zone and quiet hours."""

    def __init__(self, now: datetime) -> None:
        self.after = now + HORIZON
        self._cache: dict[tuple[int, str, str, bool], tuple[datetime, datetime]] = {}

    def __call__(self, days: int, at: str, zone: str, quiet: bool) -> tuple[datetime, datetime]:
        key = (days, at, zone, quiet)
        if key not in self._cache:
            parsed = parse_time(at)
            assert parsed is not None
            due = next_occurrence(days, parsed, zone, self.after)
            self._cache[key] = (due, after_quiet(due, zone, QUIET if quiet else None))
        return self._cache[key]


def user_row(n: int, now: datetime) -> dict[str, object]:
    quiet = n % 3 == 0
    return {
        "telegram_id": FIRST_CLIENT + n,
        "timezone": ZONES[n % len(ZONES)],
        "created_at": now - timedelta(days=1 + n % 90),
        "quiet_start": f"{QUIET.start:%H:%M}" if quiet else None,
        "quiet_end": f"{QUIET.end:%H:%M}" if quiet else None,
    }


def schedule_rows(
    n: int, user_id: int, created: datetime, plan: Planner
) -> list[dict[str, object]]:
    """The three reminders the bot's /remind set-up makes, at times spread over the day."""
    zone, quiet = ZONES[n % len(ZONES)], n % 3 == 0
    chosen = [
        ("compassion", EVERY_DAY, f"{7 + n % 14:02d}:{n // 14 % 4 * 15:02d}", None),
        ("walk", WALK_DAYS, f"{8 + n % 12:02d}:{n // 12 % 2 * 30:02d}", None),
        ("call", 1 << (n % 7), f"{10 + n % 10:02d}:00", PEOPLE[n % len(PEOPLE)]),
    ]
    rows = []
    for kind, days, at, person in chosen:
        due, send = plan(days, at, zone, quiet)
        rows.append(
            {
                "user_id": user_id, "kind": kind, "days": days, "local_time": at,
                "person": person, "active": True, "next_due_at": due, "next_send_at": send,
                "created_at": created,
            }
        )  # fmt: skip
    return rows


async def bulk_insert(
    connection: AsyncConnection, table: Table, rows: list[dict[str, object]]
) -> None:
    """Straight to the driver: COPY on PostgreSQL, one executemany on SQLite. Values go
    through the columns' own bind processors (UTC datetimes, encryption) as SQLAlchemy would
    apply them, but once per distinct value: per-row processing would take most of the time."""
    dialect = connection.dialect
    names = list(rows[0])
    columns = []  # column by column, each value converted once
    for name in names:
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        values = [row[name] for row in rows]
        if process is not None:
            # Cached, an encrypted person is one token per name, not per row: same size.
            cached = functools.lru_cache(maxsize=4096)(process)
            values = [None if value is None else cached(value) for value in values]
        columns.append(values)
    records = list(zip(*columns, strict=True))
    if dialect.name == "postgresql":  # COPY: executemany of 300,000 rows takes ~20 s
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, records=records, columns=names
        )
        return
    marks = ", ".join("?" for _ in names)
    await connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})",
        records,  # type: ignore[arg-type]
    )


async def seed(url: str, users: int) -> int:
    """Migrates and fills the database; returns the number of schedules."""
    db = Database(url)
    now = datetime.now(UTC)
    plan = Planner(now)
    users_table, schedules_table = User.__table__, Schedule.__table__
    assert isinstance(users_table, Table) and isinstance(schedules_table, Table)
    try:
        await migrate.upgrade(db)
        async with db.engine.begin() as connection:
            for start in range(0, users, CHUNK):
                chunk = range(start, min(start + CHUNK, users))
                await bulk_insert(connection, users_table, [user_row(n, now) for n in chunk])
        async with db.engine.connect() as connection:
            ids = dict((await connection.execute(select(User.telegram_id, User.id))).tuples().all())
        schedules = 0
        async with db.engine.begin() as connection:
            for start in range(0, users, CHUNK):
                rows = [
                    row
                    for n in range(start, min(start + CHUNK, users))
                    for row in schedule_rows(
                        n, ids[FIRST_CLIENT + n], now - timedelta(days=1), plan
                    )
                ]
                await bulk_insert(connection, schedules_table, rows)
                schedules += len(rows)
        due = now - timedelta(minutes=1)
        async with db.transaction() as session:
            probe = User(telegram_id=PROBE, timezone="UTC", created_at=due)
            session.add(probe)
            await session.flush()
            session.add(
                Schedule(
                    user_id=probe.id, kind="compassion", days=EVERY_DAY,
                    local_time=f"{due:%H:%M}", active=True, next_due_at=due,
                    next_send_at=due, created_at=due,
                )
            )  # fmt: skip
        if db.is_postgres:
            async with db.engine.connect() as connection:
                await connection.execute(text("ANALYZE"))  # what autovacuum does soon anyway
                await connection.commit()
        return schedules + 1
    finally:
        await db.dispose()


def memory(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a live process, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.split()
    return int(fields["VmRSS"][0]) * 1024 / MB, int(fields["VmHWM"][0]) * 1024 / MB


async def timed(started: float, wait: Awaitable[object]) -> float:
    """Seconds from `started` until `wait` is done."""
    await wait
    return perf_counter() - started


async def converse(fake: FakeBotAPI, client: int) -> None:
    """One client starts a thought record and answers its first question; each turn waits
    for all of the bot's replies to it."""
    for said, replies in CONVERSATION:
        expected = len(fake.messages(client)) + replies
        fake.send_text(client, said)
        await fake.wait_for_messages(client, expected, timeout=TIMEOUT)


async def measure(url: str, users: int, folder: Path, tick: float, ticks: int) -> Figures:
    key = crypto.generate_key()
    crypto.configure([key])  # the call reminders' person is encrypted at rest
    started = perf_counter()
    schedules = await seed(url, users)
    seeded = perf_counter() - started
    log = folder / "coach.log"
    async with FakeBotAPI() as fake:
        config = fake.config_file(folder, url, key, tick_seconds=tick)
        with log.open("wb") as output:
            started = perf_counter()
            process = await asyncio.create_subprocess_exec(
                sys.executable, *coach_command(config),
                cwd=ROOT, env=clean_env(), stdout=output, stderr=output,
            )  # fmt: skip
            try:
                polling = fake.wait_until(
                    lambda: any(name == "getUpdates" for name, _ in fake.calls), timeout=TIMEOUT
                )
                nudged = fake.wait_for_messages(PROBE, 1, timeout=TIMEOUT)
                serving, first_tick = await asyncio.gather(
                    timed(started, polling), timed(started, nudged)
                )
                rss_serving, _ = memory(process.pid)
                await converse(fake, FIRST_CLIENT)
                await asyncio.sleep(ticks * tick)  # a few idle ticks over all the schedules
                rss, peak = memory(process.pid)
            except BaseException:
                process.kill()
                await process.wait()
                sys.stderr.write(log.read_text(errors="replace")[-4000:])
                raise
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), TIMEOUT)
    output = log.read_text(errors="replace")
    if code != 0:
        sys.stderr.write(output[-4000:])
        raise SystemExit(f"coach run exited with {code} after SIGTERM ({users} users)")
    if " ERROR " in output or "Traceback" in output:
        sys.stderr.write(f"coach run logged errors ({users} users):\n{output[-4000:]}")
    return Figures(users, schedules, seeded, serving, first_tick, rss_serving, rss, peak)


def header() -> str:
    return (
        f"{'database':<11} {'users':>7} {'schedules':>9} {'seed s':>7} {'serving s':>9} "
        f"{'1st tick s':>10} {'RSS@serve MB':>12} {'RSS MB':>7} {'peak RSS MB':>11}"
    )


def row(name: str, f: Figures) -> str:
    return (
        f"{name:<11} {f.users:>7,} {f.schedules:>9,} {f.seed:>7.1f} {f.serving:>9.2f} "
        f"{f.first_tick:>10.2f} {f.rss_serving:>12.1f} {f.rss:>7.1f} {f.peak:>11.1f}"
    )


def verdict(name: str, figures: list[Figures]) -> list[str]:
    slowest = max(figures, key=lambda f: f.startup)
    small, large = figures[0], figures[-1]
    growth, peak_growth = large.rss - small.rss, large.peak - small.peak
    start_ok, rss_ok = slowest.startup < 5.0, growth < 50.0
    return [
        f"{name}: start-up (serving and first tick) at most {slowest.startup:.2f} s "
        f"({slowest.users:,} users): {'PASS' if start_ok else 'FAIL'} (goal < 5 s)",
        f"{name}: RSS growth {small.users:,} -> {large.users:,} users: {growth:+.1f} MB "
        f"(peak {peak_growth:+.1f} MB): {'PASS' if rss_ok else 'FAIL'} (goal < 50 MB)",
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated")
    parser.add_argument("--postgres", help="postgresql+asyncpg:// URL of a database on a server")
    parser.add_argument("--tick", type=float, default=0.5, help="nudges.tick_seconds")
    parser.add_argument("--ticks", type=int, default=4, help="idle ticks before reading RSS")
    args = parser.parse_args()
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    began = perf_counter()
    print(header(), flush=True)
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        databases = ["SQLite"] + (["PostgreSQL"] if args.postgres else [])
        for name in databases:
            figures = []
            for users in sizes:
                folder = Path(tmp) / f"{name}-{users}"
                folder.mkdir()
                if name == "SQLite":
                    url = f"sqlite+aiosqlite:///{folder / 'coach.db'}"
                    figures.append(await measure(url, users, folder, args.tick, args.ticks))
                else:
                    async with scratch_database(args.postgres, f"scale{users}") as url:
                        figures.append(await measure(url, users, folder, args.tick, args.ticks))
                print(row(name, figures[-1]), flush=True)
            lines += verdict(name, figures)
    print()
    print("\n".join(lines))
    print(f"(whole run {perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    asyncio.run(main())
