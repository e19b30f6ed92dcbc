"""What the benchmarks share: the real bot as its own process (`coach run`, as in production)
against the fake Bot API server in the benchmark's process, on loopback."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakebot import FakeBotAPI

ROOT = Path(__file__).resolve().parents[1]


class Clients:
    """Simulated clients: send, then wait for the bot's next message to that chat."""

    def __init__(self, fake: FakeBotAPI) -> None:
        self.fake = fake
        self.latencies: list[float] = []

    async def say(self, user: int, text: str) -> None:
        before = self.fake.message_count(user)
        started = time.perf_counter()
        self.fake.send_text(user, text)
        await self.fake.wait_for_count(user, before + 1, timeout=120)
        self.latencies.append(time.perf_counter() - started)

    async def record(self, user: int, answers: list[str]) -> None:
        for text in answers:
            await self.say(user, text)


@contextmanager
def measuring() -> Iterator[None]:
    """The harness's own cycle collector kept out of a measured phase: the fake server holds
    every message sent, and a full pass over them paused this process (and so every reply
    it was about to notice) for up to 0.2 s. Collected before; off during."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def clean_env() -> dict[str, str]:
    """The benchmark's environment without COACH_* overrides: the config file decides."""
    return {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}


@asynccontextmanager
async def bot_process(fake: FakeBotAPI, *command: str) -> AsyncIterator[int]:
    """A bot process (its pid) polling the fake; ready once its first long poll arrives.
    Stopped with SIGTERM, which it must answer with exit code 0."""
    polls = sum(1 for name, _ in fake.calls if name == "getUpdates")
    process = await asyncio.create_subprocess_exec(
        sys.executable, *command, env=clean_env(), cwd=ROOT
    )
    try:
        await fake.wait_until(
            lambda: sum(1 for name, _ in fake.calls if name == "getUpdates") > polls, timeout=60
        )
        yield process.pid
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        if await asyncio.wait_for(process.wait(), 60) != 0:
            raise SystemExit(f"the bot process {command} failed")


def coach_command(config: Path) -> tuple[str, ...]:
    return ("-m", "bot.cli", "run", "--config", str(config))
