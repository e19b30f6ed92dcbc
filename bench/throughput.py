"""Updates per second and reply latency of the real bot, beside a bare python-telegram-bot echo
bot on the same fake Bot API server (loopback), with the same update concurrency.

The echo bot runs twice: with PTB's defaults (its httpx transport, asyncio's own loop), the
baseline the goal names, and on the coach's stack (its aiohttp transport, bot/transport.py,
and uvloop), for a like-for-like figure of what the coach's own work costs.

Each bot runs as its own process (`coach run`, or this file with --echo-bot), as in production;
the fake server and the simulated clients share this process. Closed loop: N clients each
complete a whole thought record (11 updates), sending the next answer as soon as the reply to
the last one arrives. Open loop: updates offered at fixed rates (default 50/s and 100/s) by
clients starting records, measuring reply latency.

    .venv/bin/python bench/throughput.py [--users 50] [--rates 50,100] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import uvloop
from fakebot import FakeBotAPI
from harness import Clients, bot_process, coach_command, measuring
from scratch import scratch_database
from service_steps import ANSWERS
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.transport import AiohttpRequest
from storage import crypto

CONCURRENCY = 64  # the bot's default (telegram.concurrent_updates)


def figures(latencies: list[float], updates: int, seconds: float) -> str:
    cuts = statistics.quantiles(latencies, n=100)
    return (
        f"{updates / seconds:>9.0f} {cuts[49] * 1000:>8.1f} {cuts[94] * 1000:>8.1f} "
        f"{cuts[98] * 1000:>8.1f}"
    )


async def closed_loop(fake: FakeBotAPI, users: int, first: int) -> tuple[float, str]:
    clients = Clients(fake)
    with measuring():
        started = time.perf_counter()
        await asyncio.gather(*(clients.record(first + n, ANSWERS) for n in range(users)))
        seconds = time.perf_counter() - started
    rate = users * len(ANSWERS) / seconds
    return rate, figures(clients.latencies, users * len(ANSWERS), seconds)


async def open_loop(fake: FakeBotAPI, rate: float, seconds: float, first: int) -> str:
    """Offers `rate` updates/s: new clients keep arriving, each answering one question. The
    first second at that rate is not counted: it finds the bot's connections to the server
    and its caches as the previous phase left them, not as steady service at this rate."""
    await _offer(Clients(fake), rate, 1.0, first + 50_000)
    clients = Clients(fake)
    with measuring():
        started = time.perf_counter()
        count = await _offer(clients, rate, seconds, first)
        return figures(clients.latencies, count, time.perf_counter() - started)


async def _offer(clients: Clients, rate: float, seconds: float, first: int) -> int:
    tasks = []
    started = time.perf_counter()
    count = int(rate * seconds)
    for n in range(count):
        target = started + n / rate
        await asyncio.sleep(max(0.0, target - time.perf_counter()))  # pacing the offer
        user = first + n // 2
        tasks.append(asyncio.create_task(clients.say(user, ANSWERS[n % 2])))
    await asyncio.gather(*tasks)
    return count


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(update.effective_message.text or "")


def serve_echo(base_url: str, transport: str) -> None:
    """The baseline: PTB's own polling loop, one handler, nothing else (until SIGTERM)."""
    builder = Application.builder().token(FakeBotAPI.TOKEN).base_url(base_url)
    if transport == "aiohttp":  # the coach's stack: its transport, and its loop (bot/cli.py)
        builder = builder.request(AiohttpRequest()).get_updates_request(AiohttpRequest(2))
        asyncio.set_event_loop(uvloop.new_event_loop())  # run_polling runs the loop set here
    app = builder.concurrent_updates(CONCURRENCY).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling(poll_interval=0.0, timeout=5, allowed_updates=Update.ALL_TYPES)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rates", default="50,100", help="offered updates/s, comma-separated")
    parser.add_argument(
        "--postgres", help="postgresql+asyncpg:// URL; a scratch database is made beside it"
    )
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    print(f"{args.users} clients x {len(ANSWERS)} updates, update concurrency {CONCURRENCY}")
    print(f"{'bot':<30} {'updates/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    baselines = []
    echo_bots = [("httpx", "echo bot (PTB defaults)"), ("aiohttp", "echo bot, coach's stack")]
    for transport, name in echo_bots:
        async with FakeBotAPI() as fake:
            async with bot_process(fake, __file__, "--echo-bot", fake.base_url, transport):
                rate, row = await closed_loop(fake, args.users, 1_000_000)
        baselines.append(rate)
        print(f"{name:<30} {row}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await run_coach("SQLite", sqlite, Path(tmp), args.users, rates, baselines)
        if args.postgres:
            async with scratch_database(args.postgres, "throughput") as url:
                await run_coach("PostgreSQL", url, Path(tmp), args.users, rates, baselines)


async def run_coach(
    name: str, url: str, folder: Path, users: int, rates: list[float], baselines: list[float]
) -> None:
    async with FakeBotAPI() as fake:
        config = fake.config_file(folder, url, crypto.generate_key())
        async with bot_process(fake, *coach_command(config)):
            rate, closed = await closed_loop(fake, users, 2_000_000)
            defaults, same = (rate / baseline for baseline in baselines)
            print(f"{'coach, ' + name:<30} {closed}   {defaults:.0%} / {same:.0%} of the echo bots")
            for index, offered in enumerate(rates):
                opened = await open_loop(fake, offered, 5.0, 3_000_000 + index * 100_000)
                print(f"{f'coach, {name}, {offered:.0f}/s offered':<30} {opened}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--echo-bot"]:
        serve_echo(sys.argv[2], sys.argv[3])
    else:
        asyncio.run(main())
