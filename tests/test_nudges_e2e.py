"""Nudges end to end: the real Application, its JobQueue tick, the fake Bot API, the database,
and a clock the tests move."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from conftest import BotHarness, rows_of
from fakebot import FakeBotAPI, SentMessage
from telegram import Bot

from bot.config import Config
from bot.dispatcher import NUDGE_LOCK, Dispatcher, NudgeSettings
from bot.runner import open_service
from bot.telegram_app import TelegramSender, build_application, schedule_nudges, stop_nudges
from storage.db import Database
from storage.models import Nudge

ANA, BEN, CHO = 2001, 2002, 2003
# Tuesday 10 March 2026, 06:00 UTC: New York is on EDT already (since 8 March), London on GMT.
MORNING = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)


def nudges_sent_to(bot: BotHarness, user: int) -> list[SentMessage]:
    return [m for m in bot.fake.messages(user) if "✅ Done" in m.button_texts()]


async def nudges_in_db(db_url: str, telegram_id: int) -> list[Nudge]:
    return await rows_of(db_url, Nudge, telegram_id)


async def set_up(bot: BotHarness, user: int, zone: str, remind: str) -> None:
    await bot.say(user, f"/timezone {zone}", expect="Your time zone is")
    await bot.say(user, f"/remind {remind}", expect="Next one")


async def advance_to(bot: BotHarness, moment: datetime) -> None:
    bot.clock.current = moment
    await bot.settle()


@pytest.fixture
def morning(bot: BotHarness) -> BotHarness:
    bot.clock.current = MORNING
    return bot


async def test_a_daily_nudge_arrives_at_nine_local_in_three_zones(morning: BotHarness):
    bot = morning
    await set_up(bot, ANA, "Europe/London", "compassion 09:00")
    await set_up(bot, BEN, "America/New_York", "compassion 09:00")
    await set_up(bot, CHO, "Asia/Kolkata", "compassion 09:00")

    await advance_to(bot, datetime(2026, 3, 10, 8, 59, tzinfo=UTC))
    assert [len(nudges_sent_to(bot, u)) for u in (ANA, BEN, CHO)] == [0, 0, 0]
    await advance_to(bot, datetime(2026, 3, 10, 9, 0, tzinfo=UTC))  # 09:00 GMT
    assert [len(nudges_sent_to(bot, u)) for u in (ANA, BEN, CHO)] == [1, 0, 0]
    await advance_to(bot, datetime(2026, 3, 10, 13, 0, tzinfo=UTC))  # 09:00 EDT
    assert [len(nudges_sent_to(bot, u)) for u in (ANA, BEN, CHO)] == [1, 1, 0]
    await advance_to(bot, datetime(2026, 3, 11, 3, 29, tzinfo=UTC))
    assert len(nudges_sent_to(bot, CHO)) == 0
    await advance_to(bot, datetime(2026, 3, 11, 3, 30, tzinfo=UTC))  # 09:00 IST
    assert [len(nudges_sent_to(bot, u)) for u in (ANA, BEN, CHO)] == [1, 1, 1]
    assert "self-compassion" in nudges_sent_to(bot, CHO)[0].text


async def test_done_is_recorded_with_its_follow_up(morning: BotHarness, db_url: str):
    bot = morning
    await set_up(bot, ANA, "Europe/London", "walk daily 09:00")
    await advance_to(bot, datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    [nudge_message] = nudges_sent_to(bot, ANA)
    assert "Time for a short walk" in nudge_message.text
    bot.clock.advance(timedelta(minutes=25))
    await bot.tap(ANA, "✅ Done", expect="How do you feel now?")
    await bot.tap(ANA, "😊 Better", expect="Thanks for telling me")

    [nudge] = await nudges_in_db(db_url, ANA)
    assert nudge.status == "done" and nudge.follow_up == "better"
    assert nudge.due_at == datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    assert nudge.sent_at == datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    assert nudge.answered_at == datetime(2026, 3, 10, 9, 25, tzinfo=UTC)

    await bot.tap(ANA, "✅ Done", expect="already marked done")  # the old button again


async def test_snooze_sends_it_again_an_hour_later(morning: BotHarness, db_url: str):
    bot = morning
    await set_up(bot, ANA, "Europe/London", "call sun,tue 09:00 Mum")
    await advance_to(bot, datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    assert "Time to call Mum" in nudges_sent_to(bot, ANA)[0].text
    await bot.tap(ANA, "⏰ Snooze 60 min", expect="remind you again at 10:00")
    await advance_to(bot, datetime(2026, 3, 10, 9, 59, tzinfo=UTC))
    assert len(nudges_sent_to(bot, ANA)) == 1
    await advance_to(bot, datetime(2026, 3, 10, 10, 0, tzinfo=UTC))
    assert len(nudges_sent_to(bot, ANA)) == 2
    await bot.say(ANA, "called them", expect="How did it go?")
    [nudge] = await nudges_in_db(db_url, ANA)
    assert (nudge.status, nudge.snoozes) == ("done", 1)


async def test_typed_done_asks_which_when_two_kinds_are_open(morning: BotHarness, db_url: str):
    bot = morning
    await bot.say(ANA, "done", expect="nothing waiting")
    await set_up(bot, ANA, "Europe/London", "walk daily 09:00")
    await bot.say(ANA, "/remind compassion 09:00", expect="Next one")
    await advance_to(bot, datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    assert len(nudges_sent_to(bot, ANA)) == 2
    await bot.say(ANA, "Done", expect="Which one did you mean?")
    await bot.tap(ANA, "🚶 Walk", expect="How do you feel now?")
    await bot.say(ANA, "skip", expect="not today")
    statuses = {n.kind: n.status for n in await nudges_in_db(db_url, ANA)}
    assert statuses == {"walk": "done", "compassion": "skipped"}


async def test_a_reply_to_self_compassion_is_kept_as_journal(morning: BotHarness, db_url: str):
    bot = morning
    await set_up(bot, ANA, "Europe/London", "compassion 09:00")
    await advance_to(bot, datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    await bot.say(ANA, "I did my best today, and that is enough.", expect="Kept in your journal")
    [nudge] = await nudges_in_db(db_url, ANA)
    assert nudge.status == "done" and nudge.note == "I did my best today, and that is enough."


async def test_unanswered_nudge_becomes_missed_at_the_next_one(morning: BotHarness, db_url: str):
    bot = morning
    await set_up(bot, ANA, "Europe/London", "compassion 09:00")
    await advance_to(bot, datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    await advance_to(bot, datetime(2026, 3, 11, 9, 0, tzinfo=UTC))
    first, second = await nudges_in_db(db_url, ANA)
    assert (first.status, second.status) == ("missed", "sent")
    assert len({n.content_key for n in (first, second)}) == 2  # no repeat


async def test_half_an_hour_down_over_the_due_time_sends_once(morning: BotHarness, db_url: str):
    bot = morning
    await set_up(bot, ANA, "Europe/London", "compassion 09:00")
    await advance_to(bot, datetime(2026, 3, 10, 8, 50, tzinfo=UTC))
    await bot.stop()
    bot.clock.current = datetime(2026, 3, 10, 9, 20, tzinfo=UTC)
    await bot.start()
    await bot.settle()
    await bot.restart()
    await bot.settle()
    assert len(nudges_sent_to(bot, ANA)) == 1
    [nudge] = await nudges_in_db(db_url, ANA)
    assert nudge.status == "sent" and nudge.sent_at == datetime(2026, 3, 10, 9, 20, tzinfo=UTC)


async def test_due_nudges_go_out_at_start_not_a_whole_tick_later(morning: BotHarness):
    bot = morning
    await set_up(bot, ANA, "Europe/London", "compassion 09:00")
    await bot.stop()
    bot.clock.current = datetime(2026, 3, 10, 9, 5, tzinfo=UTC)
    settings = bot.config.model_dump()
    settings["nudges"]["tick_seconds"] = 300  # the next tick is minutes away
    bot.config = Config.model_validate(settings)
    await bot.start()
    await bot.fake.wait_until(lambda: len(nudges_sent_to(bot, ANA)) == 1, timeout=10)


async def test_five_hours_down_records_missed_and_sends_nothing(morning: BotHarness, db_url: str):
    bot = morning
    await set_up(bot, ANA, "Europe/London", "compassion 09:00")
    await bot.stop()
    bot.clock.current = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
    await bot.start()
    await bot.settle()
    assert nudges_sent_to(bot, ANA) == []
    [nudge] = await nudges_in_db(db_url, ANA)
    assert nudge.status == "missed" and nudge.sent_at is None


async def test_flood_control_then_success_delivers_once(morning: BotHarness, db_url: str):
    bot = morning
    await set_up(bot, ANA, "Europe/London", "compassion 09:00")
    bot.fake.fail_next("sendMessage", status=429, retry_after=3)
    await advance_to(bot, datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    assert nudges_sent_to(bot, ANA) == []
    await advance_to(bot, datetime(2026, 3, 10, 9, 0, 2, tzinfo=UTC))
    assert nudges_sent_to(bot, ANA) == []  # still inside retry_after
    await advance_to(bot, datetime(2026, 3, 10, 9, 0, 3, tzinfo=UTC))
    assert len(nudges_sent_to(bot, ANA)) == 1
    await bot.settle()
    assert len(nudges_sent_to(bot, ANA)) == 1
    [nudge] = await nudges_in_db(db_url, ANA)
    assert nudge.status == "sent" and nudge.attempts == 1


async def test_after_flood_control_no_process_sends_until_telegram_said(
    morning: BotHarness, db_url: str
):
    bot = morning
    users = [2101, 2102, 2103, 2104]
    for user in users:
        await set_up(bot, user, "Europe/London", "compassion 09:00")
    await bot.stop()  # slow pacing: Telegram's 429 comes back before the next slot
    slow = bot.config.nudges.model_copy(update={"max_per_second": 2})
    bot.config = bot.config.model_copy(update={"nudges": slow})
    await bot.start()
    before = sum(1 for name, _ in bot.fake.calls if name == "sendMessage")
    bot.fake.fail_next("sendMessage", status=429, retry_after=30)

    await advance_to(bot, datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    tries = sum(1 for name, _ in bot.fake.calls if name == "sendMessage") - before
    assert tries == 1  # the other three, waiting for their slots, did not go and earn a 429
    await bot.stop()  # another process (or this one restarted) carries on, knowing nothing

    other_process = Database(db_url)
    try:
        async with Bot(FakeBotAPI.TOKEN, base_url=bot.fake.base_url) as telegram:
            other = Dispatcher(other_process, bot.clock, TelegramSender(telegram), NudgeSettings())
            bot.clock.current = datetime(2026, 3, 10, 9, 0, 10, tzinfo=UTC)
            assert (await other.tick()).sent == 0  # the hold is kept in the database
            bot.clock.current = datetime(2026, 3, 10, 9, 0, 31, tzinfo=UTC)
            assert (await other.tick()).sent == len(users)
    finally:
        await other_process.dispose()
    assert [len(nudges_sent_to(bot, u)) for u in users] == [1] * len(users)


async def test_server_errors_are_retried_with_backoff(morning: BotHarness, db_url: str):
    bot = morning
    await set_up(bot, ANA, "Europe/London", "compassion 09:00")
    bot.fake.fail_next("sendMessage", status=502, times=2)
    await advance_to(bot, datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    await advance_to(bot, datetime(2026, 3, 10, 9, 0, 1, tzinfo=UTC))
    await advance_to(bot, datetime(2026, 3, 10, 9, 0, 5, tzinfo=UTC))
    assert len(nudges_sent_to(bot, ANA)) == 1
    [nudge] = await nudges_in_db(db_url, ANA)
    assert nudge.status == "sent" and nudge.attempts == 2


async def test_a_nudge_failing_past_its_grace_window_is_missed_not_sent_late(
    morning: BotHarness, db_url: str
):
    bot = morning
    await set_up(bot, ANA, "Europe/London", "compassion 09:00")
    bot.fake.fail_next("sendMessage", status=502, times=1000)  # Telegram down all morning
    for moment in ["09:00", "09:01", "09:05", "09:30", "10:15", "10:59"]:  # within 2 hours
        hour, minute = map(int, moment.split(":"))
        await advance_to(bot, datetime(2026, 3, 10, hour, minute, tzinfo=UTC))
    [nudge] = await nudges_in_db(db_url, ANA)
    assert (nudge.status, nudge.attempts) == ("queued", 6)  # tried again each time
    await advance_to(bot, datetime(2026, 3, 10, 11, 1, tzinfo=UTC))  # the window has closed
    [nudge] = await nudges_in_db(db_url, ANA)
    assert (nudge.status, nudge.sent_at) == ("missed", None)
    assert nudges_sent_to(bot, ANA) == []


async def test_blocked_bot_pauses_reminders_until_they_write(morning: BotHarness, db_url: str):
    bot = morning
    await set_up(bot, ANA, "Europe/London", "compassion 09:00")
    bot.fake.fail_next(
        "sendMessage", status=403, description="Forbidden: bot was blocked by the user"
    )
    await advance_to(bot, datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    tries = sum(1 for m, p in bot.fake.calls if m == "sendMessage" and p["chat_id"] == ANA)
    for day in (11, 12, 13):
        await advance_to(bot, datetime(2026, 3, day, 9, 0, tzinfo=UTC))
    later = sum(1 for m, p in bot.fake.calls if m == "sendMessage" and p["chat_id"] == ANA)
    assert later == tries  # no retry storm, no new nudges
    [nudge] = await nudges_in_db(db_url, ANA)
    assert nudge.status == "failed"

    await bot.say(ANA, "/help", expect="Here's what I can do")  # they are back
    await advance_to(bot, datetime(2026, 3, 14, 9, 0, tzinfo=UTC))
    assert len(nudges_sent_to(bot, ANA)) == 1


async def test_quiet_hours_hold_a_nudge_until_they_end(morning: BotHarness):
    bot = morning
    await set_up(bot, ANA, "Europe/London", "compassion 23:00")
    await bot.say(ANA, "/quiet 22:00-07:30", expect="Quiet hours set: 22:00–07:30")
    await advance_to(bot, datetime(2026, 3, 10, 23, 0, tzinfo=UTC))
    assert nudges_sent_to(bot, ANA) == []
    await advance_to(bot, datetime(2026, 3, 11, 7, 29, tzinfo=UTC))
    assert nudges_sent_to(bot, ANA) == []
    await advance_to(bot, datetime(2026, 3, 11, 7, 30, tzinfo=UTC))
    assert len(nudges_sent_to(bot, ANA)) == 1


async def test_changing_time_zone_moves_reminders_to_the_new_wall_clock(morning: BotHarness):
    bot = morning
    await set_up(bot, ANA, "Europe/London", "walk mon,wed,fri 17:30")
    await bot.say(ANA, "/timezone America/New_York", expect="America/New_York")
    sent = await bot.say(ANA, "/reminders", expect="Your reminders")
    assert "Mon, Wed, Fri at 17:30" in sent[-1].text and "next Wed 11 Mar 17:30" in sent[-1].text
    await advance_to(bot, datetime(2026, 3, 11, 17, 30, tzinfo=UTC))
    assert nudges_sent_to(bot, ANA) == []
    await advance_to(bot, datetime(2026, 3, 11, 21, 30, tzinfo=UTC))  # 17:30 EDT
    assert len(nudges_sent_to(bot, ANA)) == 1


async def test_remind_forms_and_mistakes(morning: BotHarness):
    bot = morning
    await bot.say(ANA, "/remind walk 25:00", expect="isn't a time")
    await bot.say(ANA, "/remind swim 10:00", expect="three kinds")
    await bot.say(ANA, "/remind walk funday 10:00", expect="isn't a day")
    sent = await bot.say(ANA, "/remind walk weekdays 12:15", expect="Next one")
    assert "weekdays at 12:15" in sent[-1].text
    await bot.say(ANA, "/remind call sun 18:00", expect="Who would you like to call?")
    sent = await bot.tap(ANA, "Mum", expect="Call Mum")
    assert "Sun at 18:00" in sent[-1].text
    await bot.say(ANA, "/remind", expect="Which reminder")
    await bot.tap(ANA, "🌱 Self-compassion", expect="When?")
    await bot.say(ANA, "8:30", expect="every day at 08:30")


async def test_reminders_list_pause_resume_delete_and_pause_all(morning: BotHarness, db_url: str):
    bot = morning
    await set_up(bot, ANA, "Europe/London", "compassion 09:00")
    await bot.say(ANA, "/reminders", expect="Your reminders")
    await bot.tap(ANA, "⏸ Pause Self-compassion", expect="Paused")
    await advance_to(bot, datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    assert nudges_sent_to(bot, ANA) == []
    await bot.say(ANA, "/reminders", expect="(paused)")
    await bot.tap(ANA, "▶ Resume Self-compassion", expect="back on")
    await bot.say(ANA, "/reminders", expect="Your reminders")
    await bot.tap(ANA, "⏸ Pause all 7 days", expect="All reminders paused until")
    await advance_to(bot, datetime(2026, 3, 11, 9, 0, tzinfo=UTC))
    assert nudges_sent_to(bot, ANA) == []
    await advance_to(bot, datetime(2026, 3, 17, 9, 0, tzinfo=UTC))
    assert len(nudges_sent_to(bot, ANA)) == 1  # the pause ended on the 17th at 06:00
    await bot.say(ANA, "/reminders", expect="Your reminders")
    await bot.tap(ANA, "🗑 Delete Self-compassion", expect="Deleted")
    await bot.say(ANA, "/reminders", expect="no reminders yet")
    assert len(await nudges_in_db(db_url, ANA)) == 1  # history is kept


async def test_start_offers_the_three_homework_items(morning: BotHarness):
    bot = morning
    await bot.say(ANA, "/start", expect="share your location")
    await bot.tap(ANA, "London", expect="self-compassion moment — every day at 09:00?")
    await bot.tap(ANA, "✓ Yes", expect="short walk with something to notice — Mon, Wed, Fri")
    await bot.tap(ANA, "🕒 Another time", expect="When?")
    await bot.say(ANA, "tue,thu 12:30", expect="weekly call")
    await bot.tap(ANA, "✓ Yes", expect="Who would you like to call?")
    sent = await bot.say(ANA, "my daughter Sam", expect="Here's what I can do")
    assert any("Call my daughter Sam" in m.text for m in sent)
    sent = await bot.say(ANA, "/reminders", expect="Your reminders")
    assert "every day at 09:00" in sent[-1].text
    assert "Tue, Thu at 12:30" in sent[-1].text
    assert "Call my daughter Sam — Sun at 18:00" in sent[-1].text


async def test_two_processes_on_one_postgres_send_each_nudge_once(morning: BotHarness, db_url: str):
    if not db_url.startswith("postgresql"):
        pytest.skip("several processes share a PostgreSQL database, not a SQLite file")
    bot = morning
    users = list(range(3000, 3020))
    for user in users:
        await set_up(bot, user, "Europe/London", "compassion 09:00")
    async with open_service(bot.config, bot.clock) as service:
        second = build_application(bot.config, service)
        other = Dispatcher(service.db, bot.clock, TelegramSender(second.bot), NudgeSettings())
        schedule_nudges(second, other, 0.01)
        async with second:
            await second.start()  # its JobQueue ticks; the first app ticks too
            await advance_to(bot, datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
            await asyncio.wait_for(other.wait_ticks(2), 10)
            await bot.settle()
            await stop_nudges(second)
            await second.stop()
    assert [len(nudges_sent_to(bot, u)) for u in users] == [1] * len(users)
    assert bot.dispatcher is not None and bot.dispatcher.ticks > 0 and other.ticks > 0


@asynccontextmanager
async def turn_taken(bot: BotHarness, other_process: Database) -> AsyncIterator[None]:
    """Holds the nudge turn as another process's tick does. The bot's own tick may hold it
    this moment: then try again once that tick is over."""
    assert bot.dispatcher is not None
    for _ in range(100):
        async with other_process.exclusive(NUDGE_LOCK) as ours:
            if ours:
                yield
                return
        await asyncio.wait_for(bot.dispatcher.wait_ticks(1), 10)
    raise AssertionError("the bot's dispatcher never let go of its turn")


async def test_while_another_process_sends_nudges_this_one_waits_its_turn(
    morning: BotHarness, db_url: str
):
    """Each process paces itself at the bulk limit: two sending at once would send at twice
    the rate Telegram allows. So one at a time does, over all processes on the database."""
    if not db_url.startswith("postgresql"):
        pytest.skip("several processes share a PostgreSQL database, not a SQLite file")
    bot = morning
    for user in (ANA, BEN):
        await set_up(bot, user, "Europe/London", "compassion 09:00")
    other_process = Database(db_url)
    try:
        async with turn_taken(bot, other_process):  # its fan-out in progress
            await advance_to(bot, datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
            assert [len(nudges_sent_to(bot, u)) for u in (ANA, BEN)] == [0, 0]
        await bot.settle()  # its turn is over: this process's next tick sends
        assert [len(nudges_sent_to(bot, u)) for u in (ANA, BEN)] == [1, 1]
    finally:
        await other_process.dispose()
