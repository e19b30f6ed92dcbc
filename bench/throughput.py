"""Updates per second and reply latency of the real bot, beside a bare python-telegram-bot echo
bot on the same fake Bot API server (loopback), with the same update concurrency.

Closed loop: N simulated clients each complete a whole thought record (11 updates), sending
the next answer as soon as the reply to the last one arrives. Open loop: updates offered at a
fixed rate (default 100/s) by clients starting records, measuring reply latency.

    .venv/bin/python bench/throughput.py [--users 50] [--rate 100] [--postgres URL-of-empty-db]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakebot import FakeBotAPI
from service_steps import ANSWERS
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.config import Config
from bot.runner import serve
from storage import crypto

CONCURRENCY = 64


class Clients:
    """Simulated clients: send, then wait for the bot's next message to that chat."""

    def __init__(self, fake: FakeBotAPI) -> None:
        self.fake = fake
        self.latencies: list[float] = []

    async def say(self, user: int, text: str) -> None:
        before = len(self.fake.messages(user))
        started = time.perf_counter()
        self.fake.send_text(user, text)
        await self.fake.wait_until(lambda: len(self.fake.messages(user)) > before, timeout=60)
        self.latencies.append(time.perf_counter() - started)

    async def record(self, user: int, answers: list[str]) -> None:
        for text in answers:
            await self.say(user, text)


def figures(latencies: list[float], updates: int, seconds: float) -> str:
    cuts = statistics.quantiles(latencies, n=100)
    return (
        f"{updates / seconds:>9.0f} {cuts[49] * 1000:>8.1f} {cuts[94] * 1000:>8.1f} "
        f"{cuts[98] * 1000:>8.1f}"
    )


async def closed_loop(fake: FakeBotAPI, users: int, answers: list[str], first: int) -> str:
    clients = Clients(fake)
    started = time.perf_counter()
    await asyncio.gather(*(clients.record(first + n, answers) for n in range(users)))
    return figures(clients.latencies, users * len(answers), time.perf_counter() - started)


async def open_loop(fake: FakeBotAPI, rate: float, seconds: float, first: int) -> str:
    """Offers `rate` updates/s: new clients keep arriving, each answering one question."""
    clients = Clients(fake)
    tasks = []
    started = time.perf_counter()
    count = int(rate * seconds)
    for n in range(count):
        target = started + n / rate
        await asyncio.sleep(max(0.0, target - time.perf_counter()))  # pacing the offer
        user = first + n // 2
        tasks.append(asyncio.create_task(clients.say(user, ANSWERS[n % 2])))
    await asyncio.gather(*tasks)
    return figures(clients.latencies, count, time.perf_counter() - started)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(update.effective_message.text or "")


async def run_echo(fake: FakeBotAPI, users: int) -> str:
    app = (
        Application.builder()
        .token(FakeBotAPI.TOKEN)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .concurrent_updates(CONCURRENCY)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0.0, timeout=5)
        result = await closed_loop(fake, users, ANSWERS, 1_000_000)
        await app.updater.stop()
        await app.stop()
    return result


async def run_coach(fake: FakeBotAPI, url: str, users: int, rate: float) -> tuple[str, str]:
    config = Config.model_validate(
        {
            "telegram": {
                "token": FakeBotAPI.TOKEN,
                "base_url": fake.base_url,
                "base_file_url": fake.base_file_url,
                "poll_timeout": 5,
                "concurrent_updates": CONCURRENCY,
            },
            "database": {"url": url},
            "security": {"data_key": crypto.generate_key()},
        }
    )
    stop = asyncio.Event()
    started: asyncio.Future = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(config, stop, started=started))
    await started
    closed = await closed_loop(fake, users, ANSWERS, 2_000_000)
    opened = await open_loop(fake, rate, 5.0, 3_000_000)
    stop.set()
    await task
    return closed, opened


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--postgres", help="postgresql+asyncpg:// URL of an EMPTY database")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"{args.users} clients x {len(ANSWERS)} updates, update concurrency {CONCURRENCY}")
    print(f"{'bot':<24} {'updates/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    async with FakeBotAPI() as fake:
        baseline = await run_echo(fake, args.users)
    print(f"{'echo bot (baseline)':<24} {baseline}")
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("SQLite", f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")]
        if args.postgres:
            targets.append(("PostgreSQL", args.postgres))
        for name, url in targets:
            async with FakeBotAPI() as fake:
                closed, opened = await run_coach(fake, url, args.users, args.rate)
            print(f"{'coach, ' + name:<24} {closed}")
            print(f"{f'coach, {name}, {args.rate:.0f}/s offered':<24} {opened}")


if __name__ == "__main__":
    asyncio.run(main())
