"""The bulk-send pacer: even slots at the rate, no burst after a quiet spell."""

from __future__ import annotations

import asyncio
import itertools

from bot.pacer import Pacer


class Timeline:
    """Time that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 100.0

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def through(pacer: Pacer, timeline: Timeline, callers: int) -> list[float]:
    """The moment each of `callers` sends, one after another, is let through."""
    slots: list[float] = []
    for _ in range(callers):
        await pacer.wait()
        slots.append(timeline.now)
    return slots


async def test_sends_are_spaced_evenly_at_the_rate_from_the_first():
    timeline = Timeline()
    pacer = Pacer(30, now=lambda: timeline.now, sleep=timeline.sleep)
    slots = await through(pacer, timeline, 61)
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert slots[0] == 100.0  # the first goes at once
    assert all(abs(gap - 1 / 30) < 1e-9 for gap in gaps)  # then exactly 30 a second
    assert sum(1 for s in slots if s < 101.0 - 1e-6) == 30  # never more than 30 in a second


async def test_a_quiet_spell_is_not_saved_up_as_a_burst():
    timeline = Timeline()
    pacer = Pacer(10, now=lambda: timeline.now, sleep=timeline.sleep)
    await through(pacer, timeline, 3)
    timeline.now += 60  # nothing to send for a minute
    slots = await through(pacer, timeline, 5)
    assert [round(s - slots[0], 6) for s in slots] == [0.0, 0.1, 0.2, 0.3, 0.4]


async def test_concurrent_callers_each_get_their_own_slot():
    pacer = Pacer(1000)  # the real loop clock: 20 callers take about 19 ms
    loop = asyncio.get_running_loop()
    started = loop.time()
    times: list[float] = []

    async def one() -> None:
        await pacer.wait()
        times.append(loop.time() - started)

    await asyncio.gather(*(one() for _ in range(20)))
    assert times == sorted(times)
    assert times[-1] >= 19 / 1000 - 1e-3
