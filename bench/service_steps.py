"""How long one answer takes inside the bot: N simulated clients each complete a whole
thought record through the conversation service (database included, Telegram not), with C
clients at a time. Prints events/s and per-event latency percentiles.

    .venv/bin/python bench/service_steps.py [--users 200] [--concurrency 32] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
import time
from pathlib import Path

from scratch import scratch_database

from bot.clock import SystemClock
from bot.service import CoachService, Incoming
from storage import crypto, migrate
from storage.db import Database

ANSWERS = [
    "/thought",
    "Tuesday at work, two mistakes pointed out in the meeting.",
    "frustrated 80, ashamed 60",
    "I'm useless at this job.",
    "I made two mistakes.",
    "The rest of the report was fine.",
    "1, 10",
    "Two fixable mistakes are normal.",
    "65",
    "40",
    "35",
]


UPDATE_IDS = itertools.count(1)  # as Telegram numbers them: each is recorded as handled


async def one_client(service: CoachService, user_id: int, latencies: list[float]) -> None:
    for text in ANSWERS:
        started = time.perf_counter()
        await service.handle(Incoming(user_id, text=text, update_id=next(UPDATE_IDS)))
        latencies.append(time.perf_counter() - started)


async def run(url: str, users: int, concurrency: int) -> dict[str, float]:
    crypto.configure([crypto.generate_key()])  # answers are encrypted, as in production
    db = Database(url)
    await migrate.upgrade(db)
    service = CoachService(db, SystemClock())
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def client(user_id: int) -> None:
        async with gate:
            await one_client(service, user_id, latencies)

    started = time.perf_counter()
    await asyncio.gather(*(client(10_000 + n) for n in range(users)))
    elapsed = time.perf_counter() - started
    await db.dispose()
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "events": len(latencies),
        "events_per_s": len(latencies) / elapsed,
        "p50_ms": cuts[49] * 1000,
        "p95_ms": cuts[94] * 1000,
        "p99_ms": cuts[98] * 1000,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--postgres", help="postgresql+asyncpg:// URL; a scratch database is made beside it"
    )
    args = parser.parse_args()
    print(f"{args.users} clients x {len(ANSWERS)} events, {args.concurrency} at a time")
    print(f"{'database':<11} {'events/s':>9} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        print(row("SQLite", await run(sqlite, args.users, args.concurrency)), flush=True)
    if args.postgres:
        async with scratch_database(args.postgres, "steps") as url:
            print(row("PostgreSQL", await run(url, args.users, args.concurrency)), flush=True)


def row(name: str, r: dict[str, float]) -> str:
    return (
        f"{name:<11} {r['events_per_s']:>9.0f} {r['p50_ms']:>7.1f} "
        f"{r['p95_ms']:>7.1f} {r['p99_ms']:>7.1f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
