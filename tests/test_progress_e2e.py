"""Wins, /progress and /export end to end, over the fake Bot API."""

from __future__ import annotations

import asyncio
import csv
import io
import struct
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from conftest import BotHarness
from pypdf import PdfReader

ANA = 5001
SPECIAL = 'Кухня, "sink" — fixed\nsecond line 👩‍👧 שלום'
RECORD = [
    ("/thought", "Step 1 of 9"),
    ("situation", "Step 2 of 9"),
    ("sad 80, anxious 60", "Step 3 of 9"),
    ("hot thought", "Step 4 of 9"),
    ("evidence for", "Your recent wins"),
    ("evidence against", "Step 6 of 9"),
    ("skip", "Step 7 of 9"),
    ("balanced", "How much do you believe"),
    ("70", "Sad"),
    ("40", "Anxious"),
    ("20", "Saved"),
]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


async def a_week_of_homework(bot: BotHarness) -> None:
    """Monday 9 March 2026: a daily walk at 09:00 London; done on four days, skipped on one,
    missed on two; two thought records (80/60 → 40/20: average 70 → 30); two wins."""
    bot.clock.current = datetime(2026, 3, 9, 6, 0, tzinfo=UTC)
    await bot.say(ANA, "/timezone Europe/London", expect="Europe/London")
    await bot.say(ANA, "/win fixed the leaky tap", expect="Logged")
    await bot.say(ANA, "/remind walk daily 09:00", expect="Next one")
    plan = ["done", "done", "skip", None, "done", None, "done"]
    for day, answer in enumerate(plan):
        bot.clock.current = datetime(2026, 3, 9 + day, 9, 0, tzinfo=UTC)
        await bot.settle()
        if answer is not None:
            bot.clock.advance(timedelta(minutes=30))
            await bot.say(
                ANA, answer, expect="How do you feel" if answer == "done" else "not today"
            )
        if day in (1, 4):
            for typed, expect in RECORD:
                await bot.say(ANA, typed, expect=expect)
    await bot.say(ANA, f"/win {SPECIAL}", expect="Logged")
    bot.clock.current = datetime(2026, 3, 15, 20, 0, tzinfo=UTC)


async def test_progress_shows_the_week_in_figures_and_a_chart(bot: BotHarness):
    sent = await bot.say(ANA, "/progress", expect="Nothing to show yet")
    assert len(sent) == 1 and sent[0].method == "sendMessage"  # no empty chart

    await a_week_of_homework(bot)
    sent = await bot.say(ANA, "/progress", expect="Before → after")
    text, chart = sent[0].text, sent[-1]
    assert "Thought records finished: 2" in text
    assert "Feelings, on average: 70 → 30 (−40)" in text
    assert "Walks: 4 of 7 done (1 skipped, 2 missed)" in text
    assert "Small wins logged: 2" in text
    # active days 9, 10, 13 and 15 March (the 11th skipped, the 12th and 14th missed)
    assert "Streak: 1 day(s) in a row · best 2" in text
    assert "fixed the leaky tap" in text
    assert chart.method == "sendPhoto" and png_size(chart.file_bytes)[0] > 300


async def test_wins_are_offered_as_evidence_against(bot: BotHarness):
    await bot.say(ANA, "/win", expect="small win from today")
    await bot.say(ANA, "got up on time", expect="Logged: got up on time")
    for typed, expect in RECORD[:4]:
        await bot.say(ANA, typed, expect=expect)
    sent = await bot.say(ANA, "evidence for", expect="Step 5 of 9")
    assert any("got up on time" in m.text for m in sent)


async def export(bot: BotHarness, command: str) -> dict[str, bytes]:
    before = len(bot.fake.messages(ANA))
    bot.fake.send_text(ANA, command)

    def documents() -> dict[str, bytes]:
        sent = bot.fake.messages(ANA)[before:]
        return {m.file_name: m.file_bytes for m in sent if m.method == "sendDocument"}

    await bot.fake.wait_until(lambda: len(documents()) == 4)
    return documents()


async def test_export_sends_csv_files_that_round_trip(bot: BotHarness, db_url: str, tmp_path):
    await a_week_of_homework(bot)
    documents = await export(bot, "/export")
    assert set(documents) == {
        "homework-coach.pdf", "thought_records.csv", "nudges.csv", "wins.csv"
    }  # fmt: skip
    pdf_text = "\n".join(
        page.extract_text() for page in PdfReader(io.BytesIO(documents["homework-coach.pdf"])).pages
    )
    assert "My CBT homework" in pdf_text and "Thought records finished: 2" in pdf_text
    assert "hot thought" in pdf_text and "sad 80 → 40" in pdf_text
    assert "Кухня" in pdf_text and "👩" in pdf_text  # Cyrillic and emoji survive
    assert "Walk" in pdf_text and "skipped" in pdf_text

    wins = list(csv.reader(io.StringIO(documents["wins.csv"].decode("utf-8"))))
    assert wins[0] == ["logged_at", "win"]
    assert [w[1] for w in wins[1:]] == ["fixed the leaky tap", " ".join(SPECIAL.split())]
    assert wins[1][0] == "2026-03-09T06:00:00+00:00"

    nudges = list(csv.DictReader(io.StringIO(documents["nudges.csv"].decode("utf-8"))))
    assert [n["status"] for n in nudges] == [
        "done", "done", "skipped", "missed", "done", "missed", "done",
    ]  # fmt: skip
    assert nudges[0]["scheduled_at"] == "2026-03-09T09:00:00+00:00"
    assert nudges[0]["answered_at"] == "2026-03-09T09:30:00+00:00"
    assert nudges[0]["follow_up"] == ""

    records = list(csv.DictReader(io.StringIO(documents["thought_records.csv"].decode("utf-8"))))
    assert len(records) == 2 and records[0]["emotions_before"] == "sad 80; anxious 60"
    assert records[0]["emotions_after"] == "sad 40; anxious 20" and records[0]["belief"] == "70"

    recent = await export(bot, "/export 3")
    assert len(list(csv.reader(io.StringIO(recent["nudges.csv"].decode())))) == 1 + 3

    config = tmp_path / "config.yaml"
    config.write_text(
        f'database:\n  url: "{db_url}"\nsecurity:\n  data_key: "{bot.config.security.data_key}"\n'
    )
    out = tmp_path / "for-ana"
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.cli", "export", "--user", str(ANA), "--out", str(out),
         "--config", str(config)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (out / "wins.csv").read_bytes() == documents["wins.csv"]


async def test_the_weekly_summary_arrives_on_sunday_evening_and_can_be_paused(bot: BotHarness):
    await a_week_of_homework(bot)  # ends Sunday 15 March, 20:00 London
    bot.clock.current = datetime(2026, 3, 9, 6, 0, tzinfo=UTC)
    await bot.say(ANA, "/remind summary sun 19:00", expect="Weekly summary")
    bot.clock.current = datetime(2026, 3, 15, 19, 0, tzinfo=UTC)
    await bot.settle()
    [summary] = [m for m in bot.fake.messages(ANA) if (m.text or "").startswith("🗓 Your week")]
    assert "Walks: 4 of 7 done (1 skipped, 2 missed)" in summary.text
    assert "Thought records finished: 2" in summary.text and "fixed the leaky tap" in summary.text
    assert "/export" in summary.text and summary.button_texts() == []

    await bot.say(ANA, "/reminders", expect="Weekly summary")
    await bot.tap(ANA, "⏸ Pause Weekly summary", expect="Paused")
    bot.clock.current = datetime(2026, 3, 22, 19, 0, tzinfo=UTC)
    await bot.settle()
    summaries = [m for m in bot.fake.messages(ANA) if (m.text or "").startswith("🗓 Your week")]
    assert len(summaries) == 1
