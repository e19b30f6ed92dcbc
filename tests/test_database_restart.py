"""PostgreSQL restarting (or ending connections) under a running bot: every connection the
pool held is dead, and is found so only on use. Nothing is lost and nothing fails for it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import FakeClock, end_every_connection

from bot.dispatcher import Delivery, Dispatcher, NudgeSettings
from bot.service import CoachService, Incoming
from flows.replies import Reply
from storage.db import Database

ANA = 4242


@pytest.fixture
def pg_url(db_url: str) -> str:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to restart")
    return db_url


class Collected:
    def __init__(self) -> None:
        self.sent: list[int] = []

    async def send(self, chat_id: int, reply: Reply) -> Delivery:
        self.sent.append(chat_id)
        return Delivery(ok=True, message_ref=len(self.sent))


async def test_the_answer_after_a_restart_is_applied_once_on_a_fresh_connection(
    db: Database, pg_url: str, clock: FakeClock
):
    service = CoachService(db, clock)
    await service.handle(Incoming(ANA, text="/thought"))
    assert await end_every_connection(pg_url) >= 1
    response = await service.handle(Incoming(ANA, text="My situation"))
    assert "Step 2 of 9" in response.replies[-1].text
    again = await service.handle(Incoming(ANA, text="/thought"))  # where does the draft stand?
    assert "(step 2 of 9)" in again.replies[-1].text  # applied once: still at step 2


async def test_the_nudge_tick_after_a_restart_fails_quietly_and_the_next_sends(
    db: Database, pg_url: str, clock: FakeClock
):
    service = CoachService(db, clock)
    await service.handle(Incoming(ANA, text="/timezone UTC"))
    await service.handle(Incoming(ANA, text="/remind walk daily 09:30"))
    sender = Collected()
    dispatcher = Dispatcher(db, clock, sender, NudgeSettings())
    await dispatcher.tick()  # the dispatcher's connections are pooled too
    assert await end_every_connection(pg_url) >= 1
    clock.advance(timedelta(minutes=31))
    await dispatcher.tick()  # raises nothing: the dead connection is dropped
    await dispatcher.tick()
    assert sender.sent == [ANA]


async def test_health_after_a_restart_is_reported_from_a_fresh_connection(
    db: Database, pg_url: str
):
    assert await db.healthy()  # a connection is pooled
    assert await end_every_connection(pg_url) >= 1
    assert await db.healthy()  # /healthz and `coach check` do not report the dead one
