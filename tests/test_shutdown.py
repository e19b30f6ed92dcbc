"""SIGTERM in the middle of a nudge fan-out: the real `coach run` process stops cleanly and
promptly, nothing is half-written, and after a restart every nudge has gone out exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import TEST_KEY, rows_of
from fakebot import FakeBotAPI
from sqlalchemy import insert

from storage import migrate
from storage.db import Database
from storage.models import Nudge, Schedule, User

USERS = list(range(7000, 7030))


async def seed(db_url: str) -> None:
    """Thirty clients whose daily nudge fell due a minute ago (real time: `coach run` uses it)."""
    db = Database(db_url)
    await migrate.upgrade(db)
    due = datetime.now(UTC) - timedelta(minutes=1)
    async with db.transaction() as session:
        await session.execute(
            insert(User),
            [{"telegram_id": u, "timezone": "UTC", "created_at": due} for u in USERS],
        )
    users = await rows_of(db_url, User)  # ids as the database gave them
    async with db.transaction() as session:
        await session.execute(
            insert(Schedule),
            [
                {
                    "user_id": user.id, "kind": "compassion", "days": 0b1111111,
                    "local_time": due.strftime("%H:%M"), "active": True,
                    "next_due_at": due, "next_send_at": due, "created_at": due,
                }
                for user in users
            ],
        )  # fmt: skip
    await db.dispose()


def nudges_sent(fake: FakeBotAPI) -> dict[int, int]:
    return {u: sum("✅ Done" in m.button_texts() for m in fake.messages(u)) for u in USERS}


async def run_until(fake: FakeBotAPI, config: Path, enough: int) -> tuple[int, float]:
    """Starts `coach run`, waits for `enough` nudges in total, sends SIGTERM; its exit code
    and how many seconds it took to exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", "--config", str(config), env=env
    )
    loop = asyncio.get_running_loop()
    try:
        await fake.wait_until(lambda: sum(nudges_sent(fake).values()) >= enough, timeout=60)
    finally:
        process.send_signal(signal.SIGTERM)
        signalled = loop.time()
        code = await asyncio.wait_for(process.wait(), 30)
    return code, loop.time() - signalled


async def test_sigterm_during_a_fan_out_loses_nothing_and_sends_nothing_twice(
    fake: FakeBotAPI, db_url: str, tmp_path: Path
):
    await seed(db_url)
    # At 2 a second, the 30 nudges claimed in one batch would take 15 s to go out.
    slow = fake.config_file(tmp_path, db_url, TEST_KEY, tick_seconds=0.2, max_per_second=2)

    code, exit_seconds = await run_until(fake, slow, enough=3)
    assert code == 0
    # The nudges still waiting for their slot gave their claim back at once: the process did
    # not hold on for the rest of the batch's slots (over 10 s here).
    assert exit_seconds < 5
    sent = nudges_sent(fake)
    assert 3 <= sum(sent.values()) < len(USERS)  # stopped part-way
    by_user = {n.user_id: n for n in await rows_of(db_url, Nudge)}
    users = {u.id: u.telegram_id for u in await rows_of(db_url, User)}
    for user_id, nudge in by_user.items():
        delivered = sent[users[user_id]]
        assert delivered <= 1
        # nothing half-written: sent ⇔ recorded as sent; unsent ones are back in the queue
        assert (nudge.status == "sent") == (delivered == 1), (nudge.status, delivered)
        assert nudge.claimed_at is None

    (tmp_path / "fast").mkdir()
    fast = fake.config_file(tmp_path / "fast", db_url, TEST_KEY, tick_seconds=0.2)
    assert (await run_until(fake, fast, enough=len(USERS)))[0] == 0
    assert set(nudges_sent(fake).values()) == {1}
    assert {n.status for n in await rows_of(db_url, Nudge)} == {"sent"}
