"""End to end: the real Application over HTTP against the fake Bot API, the real database."""

from __future__ import annotations

import gc
import json
from datetime import timedelta

import pytest
from conftest import BotHarness, end_every_connection, rows_of

from storage.models import Draft, ThoughtRecord

ANA = 1001
BEN = 1002

TYPED_RECORD = [
    (
        "At work on Tuesday, my manager pointed out two mistakes in front of the team.",
        "Step 2 of 9",
    ),
    ("frustrated 80, ashamed 60", "Step 3 of 9"),
    ("I'm useless at this job.", "Step 4 of 9"),
    ("I made two mistakes. She sounded annoyed.", "Step 5 of 9"),
    ("The rest of the report was fine; my review in spring was good.", "Step 6 of 9"),
    ("1, 10", "Step 7 of 9"),
    ("Two fixable mistakes in a long report are normal.", "How much do you believe"),
    ("65", "Frustrated — it was 80"),
    ("40", "Ashamed — it was 60"),
]


async def records_of(db_url: str, telegram_id: int) -> list[ThoughtRecord]:
    return await rows_of(db_url, ThoughtRecord, telegram_id)


async def drafts_of(db_url: str) -> list[Draft]:
    return await rows_of(db_url, Draft)


async def type_until(bot: BotHarness, user: int, steps: list[tuple[str, str]]) -> None:
    for text, expect in steps:
        await bot.say(user, text, expect=expect)


async def test_start_welcomes_asks_time_zone_then_shows_help(bot: BotHarness):
    sent = await bot.say(ANA, "/start", expect="share your location")
    welcome, ask, location = sent[0], sent[1], sent[2]
    assert "Homework Coach" in welcome.text and "/privacy" in welcome.text
    assert "Berlin / Paris" in ask.button_texts()
    assert location.reply_markup["keyboard"][0][0]["request_location"] is True

    sent = await bot.tap(ANA, "Berlin / Paris", expect="self-compassion moment")
    assert "Europe/Berlin" in sent[0].text
    commands = [c["command"] for c in bot.fake.commands]
    assert {"thought", "history", "help", "privacy", "timezone"} <= set(commands)


async def test_time_zone_from_a_typed_city_or_a_shared_location(bot: BotHarness):
    await bot.say(ANA, "/start", expect="share your location")
    sent = await bot.say(ANA, "Xyzzyville", expect="couldn't find a time zone")
    sent = await bot.say(ANA, "Leeds", expect="self-compassion moment")
    assert "Europe/London" in sent[0].text

    await bot.say(BEN, "/start", expect="share your location")
    before = len(bot.fake.messages(BEN))
    bot.fake.send_location(BEN, 40.71, -74.0)
    await bot.until(BEN, before, "America/New_York")


async def test_whole_record_typed_is_saved_and_summarised(bot: BotHarness, db_url: str):
    await bot.say(ANA, "/thought", expect="Step 1 of 9")
    await type_until(bot, ANA, TYPED_RECORD)
    sent = await bot.say(ANA, "35", expect="Saved")
    card = sent[-1].text
    assert "frustrated 80 → 40" in card and "ashamed 60 → 35" in card
    assert "All-or-nothing" in card and "Labelling" in card
    assert "believed 65/100" in card

    [record] = await records_of(db_url, ANA)
    assert record.situation == TYPED_RECORD[0][0]
    assert record.hot_thought == "I'm useless at this job."
    assert json.loads(record.emotions) == [
        {"name": "frustrated", "before": 80, "after": 40},
        {"name": "ashamed", "before": 60, "after": 35},
    ]
    assert json.loads(record.traps) == ["all_or_nothing", "labelling"]
    assert record.belief == 65
    assert await drafts_of(db_url) == []


async def test_later_steps_show_the_hot_thought_again(bot: BotHarness):
    await bot.say(ANA, "/thought", expect="Step 1 of 9")
    await type_until(bot, ANA, TYPED_RECORD[:3])
    for text, expect in TYPED_RECORD[3:6]:
        sent = await bot.say(ANA, text, expect=expect)
        assert "I'm useless at this job." in sent[-1].text


async def test_whole_record_tapped_with_buttons(bot: BotHarness, db_url: str):
    await bot.say(ANA, "/thought", expect="Step 1 of 9")
    await bot.say(ANA, "Saturday, on the sofa all afternoon.", expect="Step 2 of 9")
    await bot.tap(ANA, "guilty", expect="How strong was guilty")
    await bot.tap(ANA, "70", expect="Got it: guilty 70")
    await bot.tap(ANA, "hopeless", expect="How strong was hopeless")
    await bot.tap(ANA, "50", expect="guilty 70, hopeless 50")
    await bot.tap(ANA, "Done ✓", expect="Step 3 of 9")
    await bot.say(ANA, "I never get anything done.", expect="Step 4 of 9")
    await bot.say(ANA, "I didn't do either thing.", expect="Step 5 of 9")
    await bot.say(ANA, "I fixed the tap on Wednesday.", expect="Step 6 of 9")

    traps_message = bot.latest_with_button(ANA, "Labelling")
    bot.fake.tap(ANA, traps_message, "Labelling")
    await bot.fake.wait_until(lambda: "✓ Labelling" in bot.fake.messages(ANA)[-1].button_texts())
    assert bot.fake.messages(ANA)[-1].edits == 1  # toggled in place, not a new message
    bot.fake.tap(ANA, bot.fake.messages(ANA)[-1], "All-or-nothing")
    await bot.fake.wait_until(
        lambda: "✓ All-or-nothing" in bot.fake.messages(ANA)[-1].button_texts()
    )
    await bot.tap(ANA, "Done ✓", expect="Step 7 of 9")
    await bot.say(ANA, "I had a low-energy day.", expect="How much do you believe")
    await bot.tap(ANA, "60", expect="Guilty — it was 70")
    await bot.tap(ANA, "40", expect="Hopeless — it was 50")
    sent = await bot.tap(ANA, "20", expect="Saved")
    assert "guilty 70 → 40" in sent[-1].text and "hopeless 50 → 20" in sent[-1].text

    [record] = await records_of(db_url, ANA)
    assert json.loads(record.traps) == ["labelling", "all_or_nothing"]
    assert record.belief == 60
    answered = [c for m, c in bot.fake.calls if m.lower() == "answercallbackquery"]
    assert len(answered) >= 10  # every tap's spinner was stopped


async def test_back_shows_the_earlier_answer_and_keep_restores_it(bot: BotHarness, db_url: str):
    await bot.say(ANA, "/thought", expect="Step 1 of 9")
    await type_until(bot, ANA, TYPED_RECORD[:4])
    sent = await bot.say(ANA, "/back", expect="Step 4 of 9")
    assert "I made two mistakes. She sounded annoyed." in sent[-1].text
    sent = await bot.tap(ANA, "Keep my answer", expect="Step 5 of 9")
    await bot.say(ANA, "/back", expect="Step 4 of 9")
    await bot.say(ANA, "/back", expect="Step 3 of 9")
    await bot.say(ANA, "I'm not good enough.", expect="Step 4 of 9")
    await bot.tap(ANA, "Keep my answer", expect="Step 5 of 9")
    await type_until(bot, ANA, TYPED_RECORD[4:])
    await bot.say(ANA, "35", expect="Saved")
    [record] = await records_of(db_url, ANA)
    assert record.hot_thought == "I'm not good enough."
    assert record.evidence_for == "I made two mistakes. She sounded annoyed."


async def test_cancel_asks_first_and_only_drops_on_yes(bot: BotHarness, db_url: str):
    await bot.say(ANA, "/thought", expect="Step 1 of 9")
    await type_until(bot, ANA, TYPED_RECORD[:2])
    await bot.say(ANA, "/cancel", expect="Drop this thought record?")
    await bot.tap(ANA, "No, keep going", expect="Step 3 of 9")
    assert len(await drafts_of(db_url)) == 1
    await bot.tap(ANA, "✖ Cancel", expect="Drop this thought record?")
    await bot.tap(ANA, "Yes, drop it", expect="dropped")
    assert await drafts_of(db_url) == []
    sent = await bot.say(ANA, "/thought", expect="Step 1 of 9")
    assert not any("unfinished" in (m.text or "") for m in sent)


async def test_example_at_a_step(bot: BotHarness):
    await bot.say(ANA, "/thought", expect="Step 1 of 9")
    await type_until(bot, ANA, TYPED_RECORD[:3])
    first = await bot.say(ANA, "/example", expect="Evidence for:")
    second = await bot.tap(ANA, "💡 Example", expect="Evidence for:")
    assert first[-1].text != second[-1].text  # another worked example
    await bot.say(ANA, "Still answering step 4.", expect="Step 5 of 9")


async def test_restart_mid_record_then_continue_next_day(bot: BotHarness, db_url: str):
    await bot.say(ANA, "/thought", expect="Step 1 of 9")
    await type_until(bot, ANA, TYPED_RECORD[:3])
    await bot.restart()
    bot.clock.advance(timedelta(days=1))
    sent = await bot.say(ANA, "/thought", expect="Continue, or start a new one?")
    assert "step 4 of 9" in sent[-1].text
    sent = await bot.tap(ANA, "Continue", expect="Step 4 of 9")
    recap = "\n".join(m.text for m in sent)
    assert TYPED_RECORD[0][0] in recap and "frustrated 80" in recap and "I'm useless" in recap
    await type_until(bot, ANA, TYPED_RECORD[3:])
    await bot.say(ANA, "35", expect="Saved")
    [record] = await records_of(db_url, ANA)
    assert record.situation == TYPED_RECORD[0][0]
    assert record.completed_at - record.started_at >= timedelta(days=1)


async def test_start_over_replaces_the_draft(bot: BotHarness, db_url: str):
    await bot.say(ANA, "/thought", expect="Step 1 of 9")
    await type_until(bot, ANA, TYPED_RECORD[:2])
    await bot.say(ANA, "/thought", expect="Continue, or start a new one?")
    await bot.tap(ANA, "Start a new one", expect="Step 1 of 9")
    [draft] = await drafts_of(db_url)
    assert "Tuesday" not in draft.state


async def test_other_command_mid_flow_keeps_the_draft_and_says_how_back(bot: BotHarness):
    await bot.say(ANA, "/thought", expect="Step 1 of 9")
    await type_until(bot, ANA, TYPED_RECORD[:2])
    sent = await bot.say(ANA, "/help", expect="saved at step 3 of 9")
    assert sent[0].text.startswith("Here's what I can do")
    await bot.say(ANA, "just chatting", expect="I'm here when you need me")
    await bot.say(ANA, "/thought", expect="step 3 of 9")


async def test_stale_and_forged_buttons_expire_politely(bot: BotHarness, db_url: str):
    await bot.say(ANA, "/thought", expect="Step 1 of 9")
    await bot.say(ANA, TYPED_RECORD[0][0], expect="Step 2 of 9")
    emotions_message = bot.latest_with_button(ANA, "sad")
    await bot.say(ANA, "frustrated 80", expect="Step 3 of 9")

    before = len(bot.fake.messages(ANA))
    bot.fake.tap(ANA, emotions_message, "sad")
    sent = await bot.until(ANA, before, "expired")
    assert "Step 3 of 9" in sent[-1].text  # and here is where you are
    assert bot.fake.callback_answers[-1].get("text") == "That button has expired."

    # Ben finishes a record; Ana forges a button naming it.
    await bot.say(BEN, "/thought", expect="Step 1 of 9")
    await type_until(bot, BEN, [("Ben's secret situation", "Step 2 of 9"), *TYPED_RECORD[1:]])
    await bot.say(BEN, "35", expect="Saved")
    [bens] = await records_of(db_url, BEN)
    for forged in (f"H:r:{bens.id}", "T:zzzzzz:0.0:ex", "garbage", "H:r:99999999999999999"):
        before = len(bot.fake.messages(ANA))
        bot.fake.tap_data(ANA, emotions_message.message_id, forged)
        sent = await bot.until(ANA, before, "expired")
        assert not any("secret" in (m.text or "") for m in sent)


async def test_non_text_and_bad_input_get_a_kind_reask(bot: BotHarness, db_url: str):
    await bot.say(ANA, "/thought", expect="Step 1 of 9")
    for send in (bot.fake.send_sticker, bot.fake.send_photo, bot.fake.send_voice):
        before = len(bot.fake.messages(ANA))
        send(ANA)
        await bot.until(ANA, before, "I can only read text")
    await bot.say(ANA, "x" * 4096, expect="Step 2 of 9")
    await bot.say(ANA, ", ,", expect="Name at least one emotion")
    await bot.say(ANA, "sad 150", expect='For "sad", please give a number from 0 to 100')
    await bot.say(ANA, "sad", expect="How strong was sad")
    await bot.say(ANA, "abc", expect="number from 0 to 100")
    await bot.say(ANA, "150", expect="number from 0 to 100")
    await bot.say(ANA, "-5", expect="number from 0 to 100")
    await bot.say(ANA, "sad 70", expect="Step 3 of 9")
    [draft] = await drafts_of(db_url)
    assert json.loads(draft.state)["situation"] == "x" * 4096


async def test_history_lists_newest_first_pages_and_opens_a_record(bot: BotHarness):
    for n in range(6):
        await bot.say(ANA, "/thought", expect="Step 1 of 9")
        steps = [(f"Situation number {n}", "Step 2 of 9"), *TYPED_RECORD[1:]]
        steps[2] = (f"Hot thought number {n}", "Step 4 of 9")
        await type_until(bot, ANA, steps)
        await bot.say(ANA, "35", expect="Saved")
        bot.clock.advance(timedelta(hours=1))

    sent = await bot.say(ANA, "/history", expect="page 1 of 2")
    labels = sent[-1].button_texts()
    assert "Hot thought number 5" in labels[0] and "Hot thought number 1" in labels[4]
    bot.fake.tap(ANA, sent[-1], "Older ▶")
    await bot.fake.wait_until(lambda: "page 2 of 2" in bot.fake.messages(ANA)[-1].text)
    assert "Hot thought number 0" in bot.fake.messages(ANA)[-1].button_texts()[0]
    sent = await bot.tap(
        ANA, bot.fake.messages(ANA)[-1].button_texts()[0], expect="Situation number 0"
    )
    assert "frustrated 80 → 40" in sent[-1].text


async def test_a_long_record_is_shown_whole_across_messages(bot: BotHarness):
    long_answer = ("This is a long, long answer. " * 150)[:4000]
    await bot.say(ANA, "/thought", expect="Step 1 of 9")
    steps = [(long_answer, "Step 2 of 9"), *TYPED_RECORD[1:]]
    steps[3] = (long_answer, "Step 5 of 9")
    await type_until(bot, ANA, steps)
    await bot.say(ANA, "35", expect="Saved")
    await bot.say(ANA, "/history", expect="page 1 of 1")
    label = bot.fake.messages(ANA)[-1].button_texts()[0]
    sent = await bot.tap(ANA, label, expect="Balanced thought")
    shown = "".join(m.text for m in sent)
    assert shown.count(long_answer.strip()) == 2
    assert len(sent) >= 2


async def test_one_users_burst_is_handled_in_order(bot: BotHarness, db_url: str):
    bot.fake.send_text(ANA, "/thought")
    for text, _ in TYPED_RECORD:
        bot.fake.send_text(ANA, text)
    bot.fake.send_text(ANA, "35")
    await bot.until(ANA, 0, "Saved")
    [record] = await records_of(db_url, ANA)
    assert record.situation == TYPED_RECORD[0][0]
    assert record.evidence_against == TYPED_RECORD[4][0]
    assert json.loads(record.emotions)[1] == {"name": "ashamed", "before": 60, "after": 35}


async def test_replies_survive_telegram_errors_and_answers_are_kept(bot: BotHarness, db_url: str):
    bot.fake.break_next("sendMessage")  # no answer at all: the connection drops
    sent = await bot.say(ANA, "/thought", expect="Step 1 of 9")
    assert len(sent) == 2 and bot.fake.broken_calls == ["sendMessage"]  # the welcome, once
    bot.fake.fail_next("sendMessage", status=500)
    await bot.say(ANA, "A situation", expect="Step 2 of 9")
    bot.fake.fail_next("sendMessage", status=429, retry_after=1)
    sent = await bot.say(ANA, "sad 50", expect="Step 3 of 9")
    assert len(sent) == 1  # delivered once, not twice

    bot.fake.fail_next(
        "sendMessage", status=403, description="Forbidden: bot was blocked by the user"
    )
    before = len(bot.fake.messages(ANA))
    bot.fake.send_text(ANA, "My hot thought while blocked")
    await bot.fake.wait_until(
        lambda: any(m == "sendMessage" and s == 403 for m, s, _ in bot.fake.error_responses)
    )
    await bot.fake.wait_idle()
    assert len(bot.fake.messages(ANA)) == before  # nothing could be delivered
    await bot.say(ANA, "/thought", expect="step 4 of 9")  # the answer was kept


async def test_group_chats_are_told_to_use_a_private_chat(bot: BotHarness, db_url: str):
    group = -500
    before = len(bot.fake.messages(group))
    bot.fake.send_text(ANA, "/thought", chat_type="group", chat_id=group)
    sent = await bot.until(group, before, "private chats only")
    assert "@coach_test_bot" in sent[-1].text


async def test_help_offers_its_commands_as_buttons(bot: BotHarness):
    sent = await bot.say(ANA, "/help", expect="Here's what I can do")
    assert "📝 Thought record" in sent[-1].button_texts()
    await bot.tap(ANA, "📝 Thought record", expect="Step 1 of 9")
    await bot.say(ANA, "/help", expect="saved at step 1 of 9")
    await bot.tap(ANA, "🔒 Privacy", expect="Who can see it")


async def test_the_running_bot_keeps_the_cycle_collector_off_its_start_up_objects(
    bot: BotHarness,
):
    """A full collection walked every object since start-up (some 200,000) with the bot
    paused 40-130 ms; once running, those are frozen, and let go again when it stops."""
    await bot.fake.wait_until(lambda: gc.get_freeze_count() > 100_000, timeout=20)
    await bot.say(ANA, "/thought", expect="Step 1 of 9")  # still answering
    await bot.stop()
    assert gc.get_freeze_count() == 0


async def test_a_database_restart_between_answers_loses_no_answer(bot: BotHarness, db_url: str):
    """PostgreSQL restarting ends every connection the bot had pooled. The next answer is
    still saved and answered as usual, and the nudge ticks carry on (no error logged)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to restart")
    await bot.say(ANA, "/thought", expect="Step 1 of 9")
    await bot.settle()  # the dispatcher's connections are pooled too
    assert await end_every_connection(db_url) >= 1
    await bot.say(ANA, "A situation after the restart", expect="Step 2 of 9")
    await bot.settle()
    [draft] = await rows_of(db_url, Draft, ANA)
    assert json.loads(draft.state)["situation"] == "A situation after the restart"
