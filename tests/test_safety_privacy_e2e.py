"""Safety and privacy: crisis replies anywhere, closed access, encryption at rest, deletion,
and logs that never hold what people wrote."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from conftest import BotHarness, FakeClock, peek, rows_of
from sqlalchemy import Text, cast, func, select, text

from bot.runner import NOISY_LOGGERS, setup_logging
from bot.service import CoachService, Incoming
from bot.settings import Settings
from storage import crypto, repo
from storage.db import Database
from storage.models import Draft, Invite, Nudge, Schedule, ThoughtRecord, User, Win
from storage.rotation import encrypted_columns, rotate_all

ANA, BEN, EVE = 4001, 4002, 4003
RESOURCES = "not an emergency service"

RECORD = [
    ("/thought", "Step 1 of 9"),
    ("Quokka meeting on Tuesday, Zebedee criticised my slides.", "Step 2 of 9"),
    ("mortified 80, anxious 60", "Step 3 of 9"),
    ("Everyone thinks I am a fraud, said Zebedee.", "Step 4 of 9"),
    ("He frowned at slide seven.", "Step 5 of 9"),
    ("He used my chart in the quarterly Quokka report.", "Step 6 of 9"),
    ("skip", "Step 7 of 9"),
    ("One frown is not a verdict on my work.", "How much do you believe"),
    ("60", "Mortified"),
    ("40", "Anxious"),
    ("30", "Saved"),
]
SECRET_WORDS = ["Quokka", "Zebedee", "fraud", "mortified", "frowned", "verdict"]


async def say_all(bot: BotHarness, user: int, steps: list[tuple[str, str]]) -> None:
    for typed, expect in steps:
        await bot.say(user, typed, expect=expect)


async def rows_for(db_url: str, telegram_id: int) -> dict[str, int]:
    """How many rows of each table belong to this person."""
    async with peek(db_url) as session:
        user = await repo.find_user(session, telegram_id)
        if user is None:
            return {"users": 0}
        counts = {"users": 1}
        for model in (Draft, ThoughtRecord, Schedule, Nudge, Win):
            query = select(func.count()).select_from(model).where(model.user_id == user.id)
            counts[model.__tablename__] = (await session.execute(query)).scalar_one()
        return counts


# ── crisis language ────────────────────────────────────────────────────────────


async def test_crisis_in_a_thought_record_pauses_it_and_keeps_the_answer(
    bot: BotHarness, db_url: str
):
    await say_all(bot, ANA, RECORD[:3])
    sent = await bot.say(ANA, "honestly everyone would be better off without me", expect=RESOURCES)
    assert len(sent) == 1 and "Step 4 of 9" not in sent[0].text  # no homework question now
    assert "116 123" in sent[0].text and "/thought" in sent[0].text
    [draft] = await rows_of(db_url, Draft)
    assert json.loads(draft.state)["hot_thought"].startswith("honestly everyone")
    await bot.say(ANA, "just sitting here", expect="I'm here when you need me")  # paused
    await bot.say(ANA, "/thought", expect="(step 4 of 9)")


async def test_crisis_in_a_reply_to_a_nudge_or_a_command_argument(bot: BotHarness, db_url: str):
    bot.clock.current = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
    await bot.say(ANA, "/remind compassion 09:00", expect="Next one")
    bot.clock.current = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    await bot.settle()
    await bot.say(ANA, "i dont want to be here anymore", expect=RESOURCES)
    [nudge] = await rows_of(db_url, Nudge)
    assert nudge.note == "i dont want to be here anymore"  # kept, as a journal line
    await bot.say(BEN, "/remind call sun 18:00 I want to end it all", expect=RESOURCES)
    await bot.say(BEN, "/timezone kms", expect=RESOURCES)


async def test_the_operator_can_replace_the_resources(db: Database, clock: FakeClock):
    settings = Settings(crisis_resources="• Riverside Clinic duty line: 0100 000 000")
    service = CoachService(db, clock, settings)
    response = await service.handle(Incoming(ANA, text="I have a plan to overdose tonight"))
    [reply] = response.replies
    assert "Riverside Clinic duty line" in reply.text and "116 123" not in reply.text


# ── access ─────────────────────────────────────────────────────────────────────


async def test_invite_mode_admits_only_with_a_valid_code(db: Database, clock: FakeClock):
    service = CoachService(db, clock, Settings(access_mode="invite", operator_name="Dr Lee"))
    async with db.transaction() as session:
        await repo.create_invite(session, "ONCE", 1, None, clock.now())
        await repo.create_invite(
            session, "OLD", None, clock.now() - timedelta(days=1), clock.now() - timedelta(days=8)
        )
    for stranger_says in ("/start", "hello, I am Eve Smith", "/start WRONG", "/start OLD"):
        response = await service.handle(Incoming(EVE, text=stranger_says))
        assert "only for clients of Dr Lee" in response.replies[0].text
    response = await service.handle(Incoming(EVE, choice="T:abcdef:0.0:ex"))
    assert "only for clients of Dr Lee" in response.replies[0].text
    async with db.transaction() as session:
        assert (await session.execute(select(func.count()).select_from(User))).scalar_one() == 0

    welcomed = await service.handle(Incoming(ANA, text="/start ONCE"))
    assert "Homework Coach" in welcomed.replies[0].text
    again = await service.handle(Incoming(ANA, text="/thought"))  # admitted for good
    assert "Step 1 of 9" in again.replies[-1].text
    used_up = await service.handle(Incoming(BEN, text="/start ONCE"))
    assert "only for clients" in used_up.replies[0].text
    async with db.transaction() as session:
        invite = (await session.execute(select(Invite).where(Invite.code == "ONCE"))).scalar_one()
        assert invite.uses_left == 0


async def test_allowlist_mode(db: Database, clock: FakeClock):
    service = CoachService(db, clock, Settings(access_mode="allowlist", allowlist=frozenset({ANA})))
    assert "Homework Coach" in (await service.handle(Incoming(ANA, text="/start"))).replies[0].text
    refused = await service.handle(Incoming(EVE, text="/start"))
    assert "only for clients" in refused.replies[0].text
    async with db.transaction() as session:
        assert await repo.find_user(session, EVE) is None


# ── encryption at rest ─────────────────────────────────────────────────────────


async def raw_text_everywhere(db_url: str) -> str:
    """Every text cell of every table, as stored, in one string."""
    db = Database(db_url)
    cells: list[str] = []
    try:
        async with db.engine.connect() as connection:
            for table, _ in [*encrypted_columns(), (User.__table__, [])]:
                columns = [cast(c, Text) for c in table.columns]
                for row in (await connection.execute(select(*columns))).all():
                    cells.extend(str(v) for v in row if v is not None)
    finally:
        await db.dispose()
    return "\n".join(cells)


async def test_nothing_a_client_wrote_is_stored_in_plain_text(bot: BotHarness, db_url: str):
    bot.clock.current = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
    await say_all(bot, ANA, RECORD)
    await say_all(bot, ANA, RECORD[:4])  # and an unfinished draft
    await bot.say(ANA, "/remind call sun 18:00 Zebedee", expect="Call Zebedee")
    await bot.say(ANA, "/remind compassion 09:00", expect="Next one")
    bot.clock.current = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    await bot.settle()
    await bot.say(ANA, "Quokka journal line: I was kind to myself", expect="journal")

    stored = await raw_text_everywhere(db_url)
    assert "gAAAAA" in stored  # tokens are there…
    for word in SECRET_WORDS:
        assert word.lower() not in stored.lower(), word  # …and no words
    sent = await bot.say(ANA, "/history", expect="page 1 of 1")
    assert "Everyone thinks I am a fraud" in sent[-1].button_texts()[0]  # readable through the bot


async def test_rotation_re_encrypts_with_the_new_key(db: Database, clock: FakeClock):
    service = CoachService(db, clock)
    await service.handle(Incoming(ANA, text="/thought"))
    await service.handle(Incoming(ANA, text="Quokka situation"))
    old_key, new_key = crypto.generate_key(), crypto.generate_key()
    async with db.engine.begin() as connection:  # the row as an old deployment left it
        await connection.execute(text("UPDATE drafts SET state = :s"), {"s": "plain Quokka"})
    crypto.configure([new_key, old_key])
    async with db.engine.begin() as connection:
        changed = await rotate_all(connection)
    assert changed >= 1
    crypto.configure([new_key])  # the old key can now be dropped
    async with db.transaction() as session:
        [draft] = (await session.execute(select(Draft))).scalars()
        assert draft.state == "plain Quokka"
    assert "Quokka" not in await raw_text_everywhere(db.url)


# ── deletion ───────────────────────────────────────────────────────────────────


async def test_delete_me_erases_every_row_of_theirs_and_only_theirs(bot: BotHarness, db_url: str):
    bot.clock.current = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
    for user in (ANA, BEN):
        await say_all(bot, user, RECORD)
        await say_all(bot, user, RECORD[:3])
        await bot.say(user, "/remind compassion 09:00", expect="Next one")
        await bot.say(user, "/win fixed the leaky tap", expect="Logged")
    bot.clock.current = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    await bot.settle()
    before = await rows_for(db_url, ANA)
    assert before == {
        "users": 1, "drafts": 1, "thought_records": 1, "schedules": 1, "nudges": 1, "wins": 1
    }  # fmt: skip

    await bot.say(ANA, "/delete_me", expect="type DELETE")
    await bot.say(ANA, "delete", expect="Nothing was deleted")
    assert await rows_for(db_url, ANA) == before
    await bot.say(ANA, "/delete_me", expect="type DELETE")
    await bot.say(ANA, "DELETE", expect="has been erased")
    assert await rows_for(db_url, ANA) == {"users": 0}
    assert await rows_for(db_url, BEN) == before  # Ben keeps everything
    await bot.say(ANA, "/thought", expect="Step 1 of 9")  # a fresh start works


# ── logs ───────────────────────────────────────────────────────────────────────


async def test_logs_at_debug_never_contain_what_people_wrote(bot: BotHarness, caplog):
    root = logging.getLogger()
    saved = root.level
    setup_logging("DEBUG")
    caplog.set_level(logging.DEBUG)
    try:
        bot.clock.current = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
        await say_all(bot, ANA, RECORD)
        await bot.say(ANA, "/history", expect="page 1 of 1")
        await bot.say(ANA, "/remind call sun 18:00 Zebedee", expect="Call Zebedee")
        await bot.say(ANA, "I want to die, Quokka", expect=RESOURCES)
        bot.fake.fail_next("sendMessage", status=500)
        await bot.say(ANA, "/help", expect="Here's what I can do")
        debug = [r for r in caplog.records if r.levelno == logging.DEBUG]
        assert any(r.name.startswith("bot.") for r in debug)  # DEBUG really was on
        logged = "\n".join(r.getMessage() for r in caplog.records)
        for word in SECRET_WORDS:
            assert word.lower() not in logged.lower(), word
        assert bot.fake.TOKEN not in logged
    finally:
        root.setLevel(saved)
        for name in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)


async def test_an_unexpected_error_is_logged_without_words_and_the_user_told(
    bot: BotHarness, db_url: str, caplog
):
    await say_all(bot, ANA, RECORD[:3])
    db = Database(db_url)
    async with db.engine.begin() as connection:  # break the database under the running bot
        await connection.execute(text("DROP TABLE thought_records"))
    await db.dispose()
    sent = await bot.say(ANA, "/history Quokka", expect="something went wrong")
    assert "answers so far are saved" in sent[-1].text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and all("Quokka" not in r.getMessage() for r in errors)
    assert all(r.exc_info is None for r in errors)  # frames only: no exception message text
    caplog.clear()  # the fixture's own check is for errors nobody expected
    await bot.say(ANA, "/thought", expect="(step 3 of 9)")  # the draft survived
