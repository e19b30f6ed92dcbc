"""`coach run` serves on uvloop where it is installed (bench/throughput.py: the loop's own
work is a tenth or more of the bot's time)."""

from __future__ import annotations

import asyncio

import pytest

from bot import cli


def test_coach_run_serves_on_uvloop():
    pytest.importorskip("uvloop")  # not on Windows
    loops: list[str] = []

    async def serve() -> None:
        loops.append(type(asyncio.get_running_loop()).__module__.split(".")[0])

    cli._run_forever(serve())
    assert loops == ["uvloop"]
