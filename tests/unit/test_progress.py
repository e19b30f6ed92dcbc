"""/progress as numbers and as a picture: every figure checked against a history built by hand
(PRODUCT.md, /progress: the last 7 and 30 days, before → after, homework done of scheduled,
streaks, wins)."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from flows.content import load
from flows.progress import (
    HOMEWORK_KINDS,
    NudgePoint,
    Progress,
    RecordPoint,
    WinPoint,
    active_days,
    describe,
    record_point,
    streaks,
    summarise,
)
from flows.progress_chart import render

LONDON = "Europe/London"
NEW_YORK = "America/New_York"
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)  # a Friday; London is on GMT, New York on EDT


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def local(zone: str, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone))


def rec(at: datetime, before: float = 80, after: float | None = 40) -> RecordPoint:
    return RecordPoint(at, before, after)


def nudge(
    at: datetime, status: str = "done", kind: str = "walk", answered: datetime | None = None
) -> NudgePoint:
    return NudgePoint(kind, status, at, answered)


def win(at: datetime, text: str = "fixed the leaky tap") -> WinPoint:
    return WinPoint(at, text)


def section(text: str, days: int) -> list[str]:
    """The lines `describe` shows under "Last {days} days", up to the next blank line."""
    lines = text.split("\n")
    start = lines.index(f"Last {days} days") + 1
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return lines[start:end]


# ── a hand-built history ───────────────────────────────────────────────────────

RECORDS = [
    rec(ago(days=1), 80, 40),
    rec(ago(days=2), 50, None),  # finished but not re-rated: counted, not averaged
    rec(ago(days=3), 60, 30),
    rec(ago(days=10), 100, 70),  # only in the 30 days
    rec(ago(days=31), 10, 100),  # in neither
]
NUDGES = [
    nudge(ago(days=1), "done"),
    nudge(ago(days=2), "missed"),
    nudge(ago(days=4), "failed"),  # never delivered: missed for the person
    nudge(ago(days=5), "skipped"),
    nudge(ago(hours=1), "sent"),  # due, open: scheduled, not yet answered
    nudge(ago(hours=2), "queued"),  # waiting to be sent: not counted anywhere
    nudge(NOW + timedelta(hours=5), "queued"),  # not yet due
    nudge(ago(days=8), "done"),  # only in the 30 days
    nudge(ago(days=35), "done"),  # in neither
    nudge(ago(days=6), "skipped", kind="compassion"),
    nudge(ago(days=20), "done", kind="call"),
    nudge(ago(days=3), "done", kind="stretch"),  # not a homework kind we count
]
WINS = [win(ago(days=1)), win(ago(days=6)), win(ago(days=15)), win(ago(days=40))]


@pytest.fixture(scope="module")
def progress() -> Progress:
    return summarise(RECORDS, NUDGES, WINS, LONDON, NOW)


def test_periods_are_the_last_7_and_30_days(progress):
    assert [p.days for p in progress.periods] == [7, 30]
    assert not progress.empty


def test_records_counted_per_period(progress):
    week, month = progress.periods
    assert week.records == 3
    assert month.records == 4


def test_intensity_before_after_over_re_rated_records(progress):
    week, month = progress.periods
    assert week.before == pytest.approx(70)  # (80 + 60) / 2
    assert week.after == pytest.approx(35)  # (40 + 30) / 2
    assert week.change == pytest.approx(-35)
    assert month.before == pytest.approx(80)  # (80 + 60 + 100) / 3
    assert month.after == pytest.approx(140 / 3)  # (40 + 30 + 70) / 3
    assert month.change == pytest.approx(140 / 3 - 80)


def test_homework_done_scheduled_skipped_missed_per_kind(progress):
    week, month = progress.periods
    assert set(week.homework) == set(HOMEWORK_KINDS)
    walk = week.homework["walk"]
    # done, missed, failed, skipped, sent — the queued ones are not yet scheduled-and-due
    assert (walk.done, walk.scheduled, walk.skipped, walk.missed) == (1, 5, 1, 2)
    compassion = week.homework["compassion"]
    assert (compassion.done, compassion.scheduled, compassion.skipped, compassion.missed) == (
        0,
        1,
        1,
        0,
    )
    call = week.homework["call"]
    assert (call.done, call.scheduled, call.skipped, call.missed) == (0, 0, 0, 0)

    walk = month.homework["walk"]
    assert (walk.done, walk.scheduled, walk.skipped, walk.missed) == (2, 6, 1, 2)
    call = month.homework["call"]
    assert (call.done, call.scheduled, call.skipped, call.missed) == (1, 1, 0, 0)


def test_wins_counted_per_period(progress):
    week, month = progress.periods
    assert week.wins == 2
    assert month.wins == 3


def test_queued_nudges_are_not_scheduled_even_when_past_due():
    queued = [nudge(ago(hours=1), "queued"), nudge(ago(days=3), "queued")]
    result = summarise([], queued, [], LONDON, NOW)
    assert all(c.scheduled == 0 for p in result.periods for c in p.homework.values())
    assert result.empty


def test_window_is_now_minus_days_exclusive_to_now_inclusive():
    records = [rec(ago(days=7)), rec(NOW), rec(NOW + timedelta(seconds=1))]
    nudges = [nudge(ago(days=7), "done"), nudge(NOW, "done")]
    wins = [win(ago(days=7)), win(NOW), win(NOW + timedelta(minutes=1))]
    week, month = summarise(records, nudges, wins, LONDON, NOW).periods
    assert (week.records, week.homework["walk"].scheduled, week.wins) == (1, 1, 1)
    assert (month.records, month.homework["walk"].scheduled, month.wins) == (2, 2, 2)


def test_no_re_rated_records_means_no_change():
    week, _ = summarise([rec(ago(days=1), 70, None)], [], [], LONDON, NOW).periods
    assert week.records == 1
    assert week.before is None and week.after is None and week.change is None


def test_custom_periods():
    result = summarise(RECORDS, [], [], LONDON, NOW, periods=(1, 2, 365))
    assert [(p.days, p.records) for p in result.periods] == [(1, 0), (2, 1), (365, 5)]


# ── record_point ───────────────────────────────────────────────────────────────


def test_record_point_means_of_before_and_after():
    emotions = [
        {"name": "sad", "before": 80, "after": 40},
        {"name": "ashamed", "before": 60, "after": 30},
    ]
    point = record_point(ago(days=1), emotions)
    assert point.completed_at == ago(days=1)
    assert point.before == pytest.approx(70)
    assert point.after == pytest.approx(35)


def test_record_point_without_re_ratings():
    point = record_point(NOW, [{"name": "sad", "before": 75}, {"name": "hurt", "before": 50}])
    assert point.before == pytest.approx(62.5)
    assert point.after is None
    point = record_point(NOW, [{"name": "sad", "before": 75, "after": None}])
    assert point.after is None


def test_record_point_with_no_emotions():
    point = record_point(NOW, [])
    assert point.before == 0.0
    assert point.after is None


# ── streaks ────────────────────────────────────────────────────────────────────


def days(*numbers: int, month: int = 3) -> set[date]:
    return {date(2026, month, n) for n in numbers}


def test_streak_of_nothing():
    assert streaks(set(), date(2026, 3, 20)) == (0, 0)


def test_streak_includes_today_when_done():
    assert streaks(days(18, 19, 20), date(2026, 3, 20)) == (3, 3)


def test_today_not_done_yet_keeps_the_current_streak():
    assert streaks(days(18, 19), date(2026, 3, 20)) == (2, 2)


def test_a_missed_day_breaks_the_streak():
    # 17, 18, 19 then nothing on the 20th: by the 21st the run of three is over…
    assert streaks(days(17, 18, 19), date(2026, 3, 21)) == (0, 3)
    # …and a day missed in the middle splits it
    assert streaks(days(14, 15, 16, 18, 19), date(2026, 3, 19)) == (2, 3)


def test_best_streak_versus_current():
    history = days(1, 2, 3, 4, 5, 10, 19, 20)
    assert streaks(history, date(2026, 3, 20)) == (2, 5)
    assert streaks(history, date(2026, 3, 21)) == (2, 5)
    assert streaks(history, date(2026, 3, 22)) == (0, 5)


def test_streak_across_month_and_year_ends():
    history = {date(2025, 12, 30), date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 2)}
    assert streaks(history, date(2026, 1, 2)) == (4, 4)
    assert streaks(days(28, month=2) | days(1, 2), date(2026, 3, 2)) == (3, 3)


def test_active_days_count_records_done_nudges_and_wins_only():
    found = active_days(
        [rec(utc(2026, 3, 10, 9))],
        [
            nudge(utc(2026, 3, 11, 9), "done"),
            nudge(utc(2026, 3, 12, 9), "skipped"),
            nudge(utc(2026, 3, 13, 9), "missed"),
            nudge(utc(2026, 3, 14, 9), "sent"),
            nudge(utc(2026, 3, 15, 9), "failed"),
        ],
        [win(utc(2026, 3, 16, 9))],
        LONDON,
    )
    assert found == days(10, 11, 16)


def test_a_done_nudge_counts_on_the_day_it_was_answered():
    late = nudge(utc(2026, 3, 10, 9), "done", answered=utc(2026, 3, 11, 8))
    assert active_days([], [late], [], LONDON) == days(11)


def test_a_2330_walk_in_new_york_counts_for_that_local_evening():
    # 23:30 EDT on Monday 9 March is 03:30 UTC on Tuesday 10 March
    walk = nudge(utc(2026, 3, 9, 22), "done", answered=utc(2026, 3, 10, 3, 30))
    assert walk.answered_at == local(NEW_YORK, 2026, 3, 9, 23, 30)
    assert active_days([], [walk], [], NEW_YORK) == days(9)
    assert active_days([], [walk], [], "UTC") == days(10)


def test_new_york_streak_uses_local_days():
    walk = nudge(utc(2026, 3, 9, 22), "done", answered=utc(2026, 3, 10, 3, 30))  # 9th, 23:30
    record = rec(utc(2026, 3, 10, 12))  # 10th, 08:00 local
    now = utc(2026, 3, 11, 0)  # 10th, 20:00 local
    result = summarise([record], [walk], [], NEW_YORK, now)
    assert (result.current_streak, result.best_streak) == (2, 2)
    # the same instants in UTC fall on one day only
    result = summarise([record], [walk], [], "UTC", now)
    assert (result.current_streak, result.best_streak) == (1, 1)


def test_streak_over_the_spring_dst_night_in_london_is_unbroken():
    # clocks go forward at 01:00 GMT on Sunday 29 March 2026; a record each night at 00:30
    # local — 00:30 BST on the 30th and 31st is still the previous day in UTC
    nights = [
        utc(2026, 3, 28, 0, 30),  # 28th 00:30 GMT
        utc(2026, 3, 29, 0, 30),  # 29th 00:30 GMT, half an hour before the change
        utc(2026, 3, 29, 23, 30),  # 30th 00:30 BST
        utc(2026, 3, 30, 23, 30),  # 31st 00:30 BST
    ]
    assert nights[2] == local(LONDON, 2026, 3, 30, 0, 30)
    records = [rec(at) for at in nights]
    assert active_days(records, [], [], LONDON) == days(28, 29, 30, 31)
    now = local(LONDON, 2026, 3, 31, 12, 0)
    result = summarise(records, [], [], LONDON, now)
    assert (result.current_streak, result.best_streak) == (4, 4)


def test_streak_over_the_autumn_dst_night_in_london_is_unbroken():
    # clocks go back at 02:00 BST on Sunday 25 October 2026 (a 25-hour day); a walk each
    # night at 00:30 local — 00:30 BST is still the previous day in UTC, 00:30 GMT is not
    nights = [
        utc(2026, 10, 23, 23, 30),  # 24th 00:30 BST
        utc(2026, 10, 24, 23, 30),  # 25th 00:30 BST
        utc(2026, 10, 26, 0, 30),  # 26th 00:30 GMT
    ]
    assert nights[2] == local(LONDON, 2026, 10, 26, 0, 30)
    walks = [nudge(at - timedelta(hours=1), "done", answered=at) for at in nights]
    assert active_days([], walks, [], LONDON) == days(24, 25, 26, month=10)
    now = utc(2026, 10, 26, 12)
    result = summarise([], walks, [], LONDON, now)
    assert (result.current_streak, result.best_streak) == (3, 3)
    # in UTC the same walks fall on the 23rd, 24th and 26th: a gap on the 25th
    result = summarise([], walks, [], "UTC", now)
    assert (result.current_streak, result.best_streak) == (1, 2)


def test_the_repeated_hour_on_the_autumn_night_is_one_local_day():
    twice = [
        rec(utc(2026, 10, 25, 0, 30)),  # 01:30 BST, the first time round
        rec(utc(2026, 10, 25, 1, 30)),  # 01:30 GMT, the second time round
        rec(utc(2026, 10, 25, 22, 59)),  # 22:59 GMT, the 25-hour day's last hour
    ]
    assert active_days(twice, [], [], LONDON) == days(25, month=10)


def test_streak_in_summarise_today_not_done_then_missed_day():
    history = [win(local(LONDON, 2026, 3, d, 19, 0)) for d in (12, 13, 14, 15, 17, 18, 19)]
    result = summarise([], [], history, LONDON, local(LONDON, 2026, 3, 20, 8, 0))
    assert (result.current_streak, result.best_streak) == (3, 4)
    result = summarise([], [], history, LONDON, local(LONDON, 2026, 3, 21, 8, 0))
    assert (result.current_streak, result.best_streak) == (0, 4)


def test_streak_uses_the_local_today():
    # 02:00 UTC on the 21st is still 22:00 on the 20th in New York: the 20th is today
    history = [win(local(NEW_YORK, 2026, 3, d, 12, 0)) for d in (18, 19)]
    result = summarise([], [], history, NEW_YORK, utc(2026, 3, 21, 2))
    assert result.current_streak == 2


# ── latest wins ────────────────────────────────────────────────────────────────


def test_latest_wins_newest_first_at_most_three():
    wins = [
        win(ago(days=5), "five"),
        win(ago(days=1), "one"),
        win(ago(days=40), "forty"),
        win(ago(days=3), "three"),
        win(ago(days=2), "two"),
        win(NOW + timedelta(hours=1), "future"),
    ]
    result = summarise([], [], wins, LONDON, NOW)
    assert [w.text for w in result.latest_wins] == ["one", "two", "three"]


def test_latest_wins_fewer_than_three():
    result = summarise([], [], [win(ago(days=2), "a"), win(ago(days=1), "b")], LONDON, NOW)
    assert [w.text for w in result.latest_wins] == ["b", "a"]


# ── empty ──────────────────────────────────────────────────────────────────────


def test_empty_history_is_empty():
    result = summarise([], [], [], LONDON, NOW)
    assert result.empty
    assert (result.current_streak, result.best_streak) == (0, 0)
    assert result.latest_wins == []
    for period in result.periods:
        assert period.records == 0 and period.wins == 0 and period.change is None


def test_history_older_than_the_periods_is_empty():
    old = ago(days=45)
    result = summarise([rec(old)], [nudge(old, "done")], [win(old)], LONDON, NOW)
    assert result.empty


@pytest.mark.parametrize(
    "history",
    [
        {"records": [rec(ago(days=1), 70, None)]},
        {"nudges": [nudge(ago(hours=1), "sent")]},
        {"nudges": [nudge(ago(days=2), "missed")]},
        {"wins": [win(ago(days=20))]},
    ],
    ids=["unrated record", "open nudge", "missed nudge", "win"],
)
def test_anything_in_the_periods_is_not_empty(history):
    result = summarise(
        history.get("records", []), history.get("nudges", []), history.get("wins", []), LONDON, NOW
    )
    assert not result.empty


def test_describe_empty_says_what_will_appear_and_how_to_start():
    text = describe(summarise([], [], [], LONDON, NOW))
    assert text == load("progress")["empty"]
    assert "Nothing to show yet" in text
    for appears in ("thought records", "before → after", "walks", "calls", "streak", "wins"):
        assert appears in text
    for command in ("/thought", "/remind", "/win"):
        assert command in text
    assert "Last 7 days" not in text


# ── describe ───────────────────────────────────────────────────────────────────


def test_describe_small_history_exactly():
    history = summarise(
        [rec(ago(days=2), 80, 40)],
        [nudge(ago(days=1), "done"), nudge(ago(days=3), "missed")],
        [],
        LONDON,
        NOW,
    )
    assert describe(history) == "\n".join(
        [
            "📈 Your progress",
            "",
            "Last 7 days",
            "• Thought records finished: 1",
            "• Feelings, on average: 80 → 40 (−40)",
            "• Walks: 1 of 2 done (0 skipped, 1 missed)",
            "",
            "Last 30 days",
            "• Thought records finished: 1",
            "• Feelings, on average: 80 → 40 (−40)",
            "• Walks: 1 of 2 done (0 skipped, 1 missed)",
            "",
            "🔥 Streak: 2 day(s) in a row · best 2",
        ]
    )


def test_describe_the_hand_built_history(progress):
    text = describe(progress)
    assert text.startswith("📈 Your progress\n")
    assert section(text, 7) == [
        "• Thought records finished: 3",
        "• Feelings, on average: 70 → 35 (−35)",
        "• Self-compassion: 0 of 1 done (1 skipped, 0 missed)",
        "• Walks: 1 of 5 done (1 skipped, 2 missed)",
        "• Small wins logged: 2",
    ]
    assert section(text, 30) == [
        "• Thought records finished: 4",
        "• Feelings, on average: 80 → 47 (−33)",
        "• Self-compassion: 0 of 1 done (1 skipped, 0 missed)",
        "• Walks: 2 of 6 done (1 skipped, 2 missed)",
        "• Calls: 1 of 1 done (0 skipped, 0 missed)",
        "• Small wins logged: 3",
    ]
    assert f"🔥 Streak: {progress.current_streak} day(s) in a row" in text
    assert text.endswith(
        "🏆 Latest wins:\n• fixed the leaky tap\n• fixed the leaky tap\n• fixed the leaky tap"
    )


def test_describe_streak_line():
    wins = [win(ago(days=d)) for d in (0, 1, 2, 5, 6, 7, 8)]
    result = summarise([], [], wins, LONDON, NOW)
    assert (result.current_streak, result.best_streak) == (3, 4)
    assert "🔥 Streak: 3 day(s) in a row · best 4" in describe(result).split("\n")


@pytest.mark.parametrize(
    ("before", "after", "shown"),
    [
        (80, 40, "80 → 40 (−40)"),
        (40, 60, "40 → 60 (+20)"),
        (50, 50, "50 → 50 (±0)"),
        (0, 100, "0 → 100 (+100)"),
        (100, 0, "100 → 0 (−100)"),
    ],
)
def test_describe_intensity_signs(before, after, shown):
    text = describe(summarise([rec(ago(days=1), before, after)], [], [], LONDON, NOW))
    assert f"• Feelings, on average: {shown}" in text.split("\n")


def test_describe_leaves_out_intensity_without_re_ratings_and_kinds_never_scheduled():
    text = describe(summarise([rec(ago(days=1), 70, None)], [], [], LONDON, NOW))
    assert "Feelings" not in text
    assert "Walks" not in text and "Calls" not in text and "Self-compassion" not in text
    assert "• Thought records finished: 1" in text
    assert "Latest wins" not in text


def test_describe_shows_latest_wins_newest_first():
    wins = [win(ago(days=d), f"win {d}") for d in (4, 1, 3, 2)]
    text = describe(summarise([], [], wins, LONDON, NOW))
    lines = text.split("\n")
    start = lines.index("🏆 Latest wins:")
    assert lines[start + 1 :] == ["• win 1", "• win 2", "• win 3"]


def test_describe_shortens_a_long_win():
    text = describe(summarise([], [], [win(ago(days=1), "x" * 500)], LONDON, NOW))
    assert f"• {'x' * 120}" in text.split("\n")


def test_describe_shown_change_agrees_with_shown_before_and_after():
    # before (85 + 70 + 60) / 3 = 71.67 → 72; after (40 + 45 + 30) / 3 = 38.33 → 38;
    # change −33.33 → −33, yet a reader sees 72 → 38, a change of −34
    records = [rec(ago(days=1), 85, 40), rec(ago(days=2), 70, 45), rec(ago(days=3), 60, 30)]
    text = describe(summarise(records, [], [], LONDON, NOW))
    assert "• Feelings, on average: 72 → 38 (−34)" in text.split("\n")


# ── the chart ──────────────────────────────────────────────────────────────────

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    (crc,) = struct.unpack(">I", data[29:33])
    assert crc == zlib.crc32(data[12:29])
    return width, height


def assert_png(data: bytes) -> None:
    assert isinstance(data, bytes)
    assert len(data) > 5_000
    width, height = png_size(data)
    assert 400 <= width <= 3000 and 200 <= height <= 2000
    assert width > height  # two charts side by side
    assert data.endswith(b"IEND\xaeB`\x82")


def test_chart_of_a_small_history_is_a_png():
    records = [
        rec(ago(days=1), 80, 40),
        rec(ago(days=3), 60, 30),
        rec(ago(days=2), 50, None),
    ]
    nudges = [
        nudge(ago(days=1), "done"),
        nudge(ago(days=9), "done", kind="call", answered=ago(days=9, hours=-2)),
        nudge(ago(days=2), "skipped", kind="compassion"),
        nudge(ago(days=20), "done", kind="compassion"),
        nudge(ago(days=100), "done"),  # older than the chart's weeks
    ]
    assert_png(render(records, nudges, LONDON, NOW))


def test_chart_without_ratings_is_a_png():
    records = [rec(ago(days=1), 70, None), rec(ago(days=2), 50, None)]
    assert_png(render(records, [nudge(ago(days=1), "done")], NEW_YORK, NOW))


def test_chart_of_nothing_still_renders():
    assert_png(render([], [], LONDON, NOW))


def test_chart_of_many_records_across_dst():
    now = local(LONDON, 2026, 4, 5, 12, 0)
    records = [rec(now - timedelta(days=d), 30 + d, 20 + d) for d in range(40)]
    nudges = [nudge(now - timedelta(days=d), "done", kind=HOMEWORK_KINDS[d % 3]) for d in range(56)]
    assert_png(render(records, nudges, LONDON, now))
