"""When reminders fire: wall-clock times in the user's zone, across DST, quiet hours and zone
changes (PRODUCT.md, Nudges)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.schedule import (
    EVERY_DAY,
    WEEKDAYS,
    WEEKENDS,
    Quiet,
    after_quiet,
    describe_days,
    next_occurrence,
    parse_days,
    parse_quiet,
    parse_time,
    wall_to_utc,
)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
LONDON = "Europe/London"
NEW_YORK = "America/New_York"
LORD_HOWE = "Australia/Lord_Howe"
KOLKATA = "Asia/Kolkata"
ZONES = [
    LONDON,
    NEW_YORK,
    LORD_HOWE,
    KOLKATA,
    "Europe/Berlin",
    "America/Santiago",
    "Pacific/Chatham",
    "Asia/Tehran",
]


# ── an oracle written from the rules, not from the implementation ─────────────


def _occurrences(naive: datetime, zone: ZoneInfo) -> list[datetime]:
    """Every UTC instant at which the clock in `zone` reads `naive` (0, 1 or 2 of them)."""
    found = set()
    for fold in (0, 1):
        instant = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == naive:
            found.add(instant)
    return sorted(found)


def expected_fire(day: date, at: time, zone_name: str) -> datetime:
    """The rule: the first occurrence of `at` on `day`; if the clock never shows it that day,
    the first minute after it that the clock does show."""
    zone = ZoneInfo(zone_name)
    naive = datetime.combine(day, at)
    for _ in range(24 * 60):
        found = _occurrences(naive, zone)
        if found:
            return found[0]
        naive += timedelta(minutes=1)
    raise AssertionError("no valid minute found")


def expected_next(mask: int, at: time, zone_name: str, after: datetime) -> datetime:
    """Brute force: the earliest allowed day's firing that is strictly after `after`."""
    first = after.astimezone(ZoneInfo(zone_name)).date() - timedelta(days=2)
    candidates = [
        expected_fire(first + timedelta(days=i), at, zone_name)
        for i in range(12)
        if mask & (1 << (first + timedelta(days=i)).weekday())
    ]
    return min(c for c in candidates if c > after)


def local(instant: datetime, zone_name: str) -> datetime:
    return instant.astimezone(ZoneInfo(zone_name))


def at_local(zone_name: str, *args: int, fold: int = 0) -> datetime:
    """An aware UTC instant from local wall-clock fields."""
    return datetime(*args, tzinfo=ZoneInfo(zone_name), fold=fold).astimezone(UTC)


def exists(naive: datetime, zone_name: str) -> bool:
    return bool(_occurrences(naive, ZoneInfo(zone_name)))


def walk(mask: int, at: time, zone_name: str, after: datetime, count: int) -> list[datetime]:
    """Successive firings, each planned from the one before (as the dispatcher does)."""
    fired = []
    for _ in range(count):
        after = next_occurrence(mask, at, zone_name, after)
        fired.append(after)
    return fired


def transitions(zone_name: str, start: datetime, end: datetime) -> list[tuple[datetime, ...]]:
    """(utc instant, offset before, offset after) for every offset change in [start, end)."""
    zone = ZoneInfo(zone_name)
    found = []
    step = timedelta(minutes=15)
    moment, offset = start, start.astimezone(zone).utcoffset()
    while moment < end:
        moment += step
        new = moment.astimezone(zone).utcoffset()
        if new != offset:
            found.append((moment, offset, new))
            offset = new
    return found


@cache
def transitions_2026_2027(zone_name: str) -> list[tuple[datetime, ...]]:
    return transitions(
        zone_name, datetime(2026, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)
    )


# ── every days form ────────────────────────────────────────────────────────────

DAY_FORMS = [
    ("daily", {MON, TUE, WED, THU, FRI, SAT, SUN}),
    ("weekdays", {MON, TUE, WED, THU, FRI}),
    ("weekends", {SAT, SUN}),
    ("mon,wed,fri", {MON, WED, FRI}),
    ("sun", {SUN}),
    ("mon-fri", {MON, TUE, WED, THU, FRI}),
    ("fri-mon", {FRI, SAT, SUN, MON}),
    ("Tuesday, Thursday", {TUE, THU}),
    ("saturdays", {SAT}),
    ("monday-wednesday", {MON, TUE, WED}),
]


@pytest.mark.parametrize(("form", "weekdays"), DAY_FORMS)
@pytest.mark.parametrize("zone_name", [LONDON, NEW_YORK, KOLKATA])
def test_next_occurrence_steps_through_the_allowed_days(form, weekdays, zone_name):
    mask = parse_days(form)
    assert mask is not None
    at = time(17, 30)
    # Wednesday 4 Feb 2026, 12:00 local: before today's 17:30
    after = at_local(zone_name, 2026, 2, 4, 12, 0)
    fired = walk(mask, at, zone_name, after, 12)

    previous = after
    for instant in fired:
        assert instant > previous
        shown = local(instant, zone_name)
        assert shown.weekday() in weekdays
        assert shown.time() == at
        previous = instant

    # no allowed day is skipped: the local dates are exactly the allowed dates in order
    first_day = date(2026, 2, 4)
    allowed = [
        first_day + timedelta(days=i)
        for i in range(100)
        if (first_day + timedelta(days=i)).weekday() in weekdays
    ][:12]
    assert [local(i, zone_name).date() for i in fired] == allowed


def test_mon_wed_fri_goes_monday_wednesday_friday_monday():
    mask = parse_days("mon,wed,fri")
    # Monday 9 Feb 2026 at 17:30 exactly: that one is not *after* itself
    after = at_local(LONDON, 2026, 2, 9, 17, 30)
    fired = walk(mask, time(17, 30), LONDON, after, 4)
    assert [local(i, LONDON).strftime("%a %d %H:%M") for i in fired] == [
        "Wed 11 17:30",
        "Fri 13 17:30",
        "Mon 16 17:30",
        "Wed 18 17:30",
    ]


def test_a_single_day_fires_a_week_later_once_today_has_passed():
    mask = parse_days("sun")
    sunday_evening = at_local(LONDON, 2026, 2, 8, 18, 1)  # one minute after 18:00
    fired = next_occurrence(mask, time(18, 0), LONDON, sunday_evening)
    assert local(fired, LONDON) == datetime(2026, 2, 15, 18, 0, tzinfo=ZoneInfo(LONDON))
    sunday_before = at_local(LONDON, 2026, 2, 8, 17, 59)
    fired = next_occurrence(mask, time(18, 0), LONDON, sunday_before)
    assert local(fired, LONDON) == datetime(2026, 2, 8, 18, 0, tzinfo=ZoneInfo(LONDON))


def test_today_if_still_ahead_tomorrow_if_passed():
    after = at_local(LONDON, 2026, 2, 4, 8, 0)
    assert local(next_occurrence(EVERY_DAY, time(8, 30), LONDON, after), LONDON).day == 4
    assert local(next_occurrence(EVERY_DAY, time(7, 30), LONDON, after), LONDON).day == 5
    # exactly at the time: strictly after, so tomorrow
    assert local(next_occurrence(EVERY_DAY, time(8, 0), LONDON, after), LONDON).day == 5


def test_after_in_another_zone_is_the_same_instant():
    """`after` given in any zone means the same moment."""
    after_utc = datetime(2026, 2, 4, 12, 0, tzinfo=UTC)
    after_tokyo = after_utc.astimezone(ZoneInfo("Asia/Tokyo"))
    assert next_occurrence(WEEKDAYS, time(9, 0), NEW_YORK, after_utc) == next_occurrence(
        WEEKDAYS, time(9, 0), NEW_YORK, after_tokyo
    )


def test_a_reminder_without_days_is_refused():
    with pytest.raises(ValueError):
        next_occurrence(0, time(9, 0), LONDON, datetime(2026, 1, 1, tzinfo=UTC))


# ── DST on the real 2026 transition days ───────────────────────────────────────


@pytest.mark.parametrize(
    ("zone_name", "wall", "expected_utc", "expected_local"),
    [
        # spring forward: the clock jumps over the asked time → first valid minute after it
        (LONDON, datetime(2026, 3, 29, 1, 30), datetime(2026, 3, 29, 1, 0), "02:00 BST"),
        (LONDON, datetime(2026, 3, 29, 1, 0), datetime(2026, 3, 29, 1, 0), "02:00 BST"),
        (LONDON, datetime(2026, 3, 29, 2, 0), datetime(2026, 3, 29, 1, 0), "02:00 BST"),
        (NEW_YORK, datetime(2026, 3, 8, 2, 30), datetime(2026, 3, 8, 7, 0), "03:00 EDT"),
        (NEW_YORK, datetime(2026, 3, 8, 2, 0), datetime(2026, 3, 8, 7, 0), "03:00 EDT"),
        (NEW_YORK, datetime(2026, 3, 8, 2, 59), datetime(2026, 3, 8, 7, 0), "03:00 EDT"),
        # a minute either side of the gap is untouched
        (NEW_YORK, datetime(2026, 3, 8, 1, 59), datetime(2026, 3, 8, 6, 59), "01:59 EST"),
        (NEW_YORK, datetime(2026, 3, 8, 3, 0), datetime(2026, 3, 8, 7, 0), "03:00 EDT"),
        # fall back: the asked time happens twice → its first occurrence (summer time)
        (LONDON, datetime(2026, 10, 25, 1, 30), datetime(2026, 10, 25, 0, 30), "01:30 BST"),
        (LONDON, datetime(2026, 10, 25, 1, 0), datetime(2026, 10, 25, 0, 0), "01:00 BST"),
        (LONDON, datetime(2026, 10, 25, 2, 0), datetime(2026, 10, 25, 2, 0), "02:00 GMT"),
        (NEW_YORK, datetime(2026, 11, 1, 1, 30), datetime(2026, 11, 1, 5, 30), "01:30 EDT"),
        (NEW_YORK, datetime(2026, 11, 1, 1, 0), datetime(2026, 11, 1, 5, 0), "01:00 EDT"),
        # ordinary hours on those days
        (LONDON, datetime(2026, 3, 29, 9, 0), datetime(2026, 3, 29, 8, 0), "09:00 BST"),
        (LONDON, datetime(2026, 10, 25, 9, 0), datetime(2026, 10, 25, 9, 0), "09:00 GMT"),
        (NEW_YORK, datetime(2026, 3, 8, 9, 0), datetime(2026, 3, 8, 13, 0), "09:00 EDT"),
        (NEW_YORK, datetime(2026, 11, 1, 9, 0), datetime(2026, 11, 1, 14, 0), "09:00 EST"),
    ],
)
def test_wall_times_on_transition_days(zone_name, wall, expected_utc, expected_local):
    day_before = wall - timedelta(days=1)
    after = at_local(zone_name, day_before.year, day_before.month, day_before.day, 12, 0)
    fired = next_occurrence(EVERY_DAY, wall.time(), zone_name, after)
    assert fired == expected_utc.replace(tzinfo=UTC)
    assert local(fired, zone_name).strftime("%H:%M %Z") == expected_local
    assert local(fired, zone_name).date() == wall.date()
    assert wall_to_utc(wall.date(), wall.time(), ZoneInfo(zone_name)) == fired


def test_lord_howe_shifts_by_half_an_hour_on_5_april_and_4_october_2026():
    found = transitions(
        LORD_HOWE, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert [(local(m, LORD_HOWE).date(), new - old) for m, old, new in found] == [
        (date(2026, 4, 5), timedelta(minutes=-30)),
        (date(2026, 10, 4), timedelta(minutes=30)),
    ]
    (back, back_old, back_new), (fwd, fwd_old, fwd_new) = found
    zone = ZoneInfo(LORD_HOWE)

    # 5 April: the clock reads the half hour before the change twice
    fold_start = (back + back_new).replace(tzinfo=None)  # wall time right after the change
    fold_end = (back + back_old).replace(tzinfo=None)  # wall time right before it
    assert fold_end - fold_start == timedelta(minutes=30)
    assert fold_start == datetime(2026, 4, 5, 1, 30)  # checked against zoneinfo above
    twice = fold_start + timedelta(minutes=15)  # 01:45
    assert len(_occurrences(twice, zone)) == 2
    fired = next_occurrence(EVERY_DAY, twice.time(), LORD_HOWE, back - timedelta(hours=12))
    assert fired == twice.replace(tzinfo=UTC) - back_old  # first occurrence: summer offset
    assert local(fired, LORD_HOWE).utcoffset() == timedelta(hours=11)
    following = next_occurrence(EVERY_DAY, twice.time(), LORD_HOWE, fired)
    assert local(following, LORD_HOWE).date() == date(2026, 4, 6)
    assert local(following, LORD_HOWE).time() == twice.time()

    # 4 October: half an hour of wall time does not exist
    gap_start = (fwd + fwd_old).replace(tzinfo=None)
    gap_end = (fwd + fwd_new).replace(tzinfo=None)
    assert gap_end - gap_start == timedelta(minutes=30)
    assert gap_start == datetime(2026, 10, 4, 2, 0)
    for minutes in (0, 1, 15, 29):
        missing = gap_start + timedelta(minutes=minutes)
        assert not exists(missing, LORD_HOWE)
        fired = next_occurrence(EVERY_DAY, missing.time(), LORD_HOWE, fwd - timedelta(hours=12))
        assert fired == fwd
        assert local(fired, LORD_HOWE).replace(tzinfo=None) == gap_end  # 02:30 +11
    # the first valid minute fires as asked
    fired = next_occurrence(EVERY_DAY, gap_end.time(), LORD_HOWE, fwd - timedelta(hours=12))
    assert fired == fwd
    assert zone.utcoffset(local(fired, LORD_HOWE).replace(tzinfo=None)) == timedelta(hours=11)


def test_kolkata_has_no_dst_nine_every_day_of_2026():
    fired = walk(EVERY_DAY, time(9, 0), KOLKATA, datetime(2026, 1, 1, tzinfo=UTC), 365)
    assert [local(i, KOLKATA).date() for i in fired] == [
        date(2026, 1, 1) + timedelta(days=n) for n in range(365)
    ]
    assert {(i.hour, i.minute) for i in fired} == {(3, 30)}  # 09:00 IST is 03:30 UTC
    assert {local(i, KOLKATA).strftime("%H:%M %Z") for i in fired} == {"09:00 IST"}


@pytest.mark.parametrize(
    ("zone_name", "first_day", "days"),
    [
        (LONDON, date(2026, 3, 15), 31),
        (LONDON, date(2026, 10, 10), 31),
        (NEW_YORK, date(2026, 2, 25), 31),
        (NEW_YORK, date(2026, 10, 20), 31),
        (LORD_HOWE, date(2026, 3, 20), 31),
        (LORD_HOWE, date(2026, 9, 20), 31),
        ("Europe/Berlin", date(2026, 10, 10), 31),
        ("America/Santiago", date(2026, 3, 20), 31),
        ("America/Santiago", date(2026, 8, 25), 31),
        ("Pacific/Chatham", date(2026, 3, 20), 31),
        ("Pacific/Chatham", date(2026, 9, 15), 31),
    ],
)
@pytest.mark.parametrize(
    "at",
    [time(h, m) for h, m in [(0, 0), (0, 30), (1, 0), (1, 30), (1, 45), (2, 0), (2, 15)]]
    + [time(h, m) for h, m in [(2, 30), (2, 45), (3, 0), (3, 15), (3, 45), (9, 0), (23, 30)]],
)
def test_a_daily_reminder_fires_once_per_local_day_across_a_transition(
    zone_name, first_day, days, at
):
    start = at_local(zone_name, first_day.year, first_day.month, first_day.day, 0, 0)
    start -= timedelta(minutes=1)
    fired = walk(EVERY_DAY, at, zone_name, start, days)
    assert [local(i, zone_name).date() for i in fired] == [
        first_day + timedelta(days=n) for n in range(days)
    ]
    for instant in fired:
        assert instant == expected_fire(local(instant, zone_name).date(), at, zone_name)
    assert fired == sorted(set(fired))


def test_a_time_that_happens_twice_never_fires_twice_the_same_day():
    # 01:30 New York happens at 05:30 UTC and again at 06:30 UTC on 1 Nov 2026
    assert len(_occurrences(datetime(2026, 11, 1, 1, 30), ZoneInfo(NEW_YORK))) == 2
    first = next_occurrence(EVERY_DAY, time(1, 30), NEW_YORK, datetime(2026, 11, 1, tzinfo=UTC))
    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    again = next_occurrence(EVERY_DAY, time(1, 30), NEW_YORK, first)
    assert again != datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert local(again, NEW_YORK).date() == date(2026, 11, 2)
    # planning from inside the repeated hour (after the first 01:30 passed) waits a day
    between = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)  # 01:00 EST, the second pass
    assert local(next_occurrence(EVERY_DAY, time(1, 30), NEW_YORK, between), NEW_YORK).day == 2


def test_a_sunday_reminder_across_the_transition_sunday():
    mask = parse_days("sun")
    fired = walk(mask, time(2, 30), NEW_YORK, datetime(2026, 2, 20, tzinfo=UTC), 4)
    assert [local(i, NEW_YORK).strftime("%d %b %H:%M %Z") for i in fired] == [
        "22 Feb 02:30 EST",
        "01 Mar 02:30 EST",
        "08 Mar 03:00 EDT",
        "15 Mar 02:30 EDT",
    ]


# ── the same rules for any zone, time and moment ──────────────────────────────

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

zone_names = st.sampled_from(ZONES)
times_of_day = st.builds(time, st.integers(0, 23), st.integers(0, 59))
afters = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 24), timezones=st.just(UTC)
)
masks = st.one_of(
    st.sampled_from([EVERY_DAY, WEEKDAYS, WEEKENDS, 0b0010101, 1 << SUN]),
    st.integers(1, EVERY_DAY),
)


@st.composite
def moments(draw: st.DrawFn) -> tuple[str, time, datetime]:
    """A zone, a time of day and an `after`; half the time close to one of the zone's
    transitions so the odd hours are exercised."""
    zone_name = draw(zone_names)
    at = draw(times_of_day)
    if draw(st.booleans()):
        found = transitions_2026_2027(zone_name)
        if found:
            moment = draw(st.sampled_from(found))[0]
            after = moment + timedelta(minutes=draw(st.integers(-3 * 24 * 60, 24 * 60)))
            return zone_name, at, after
    return zone_name, at, draw(afters)


@SETTINGS
@given(moments(), masks)
def test_next_occurrence_property(moment, mask):
    zone_name, at, after = moment
    zone = ZoneInfo(zone_name)
    fired = walk(mask, at, zone_name, after, 3)
    previous = after
    for instant in fired:
        assert instant.tzinfo is not None
        assert instant > previous
        assert instant - previous <= timedelta(days=8)
        shown = instant.astimezone(zone)
        assert mask & (1 << shown.weekday())
        asked = datetime.combine(shown.date(), at)
        if exists(asked, zone_name):
            assert shown.time() == at
            # and it is the first time the clock shows it that day
            assert instant == _occurrences(asked, zone)[0]
        else:
            # the first minute the clock does show after the asked time
            wall = shown.replace(tzinfo=None)
            assert wall > asked
            probe = asked
            while probe < wall:
                assert not exists(probe, zone_name)
                probe += timedelta(minutes=1)
        # nothing allowed was skipped on the way
        assert instant == expected_next(mask, at, zone_name, previous)
        previous = instant
    dates = [local(i, zone_name).date() for i in fired]
    assert len(set(dates)) == len(dates)


# ── changing time zone ─────────────────────────────────────────────────────────


def test_moving_from_london_to_kolkata_keeps_the_wall_clock():
    now = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
    in_london = next_occurrence(EVERY_DAY, time(9, 0), LONDON, now)
    assert local(in_london, LONDON).strftime("%d %H:%M %Z") == "01 09:00 BST"
    # the person moves: the same reminder, re-planned in the new zone
    in_kolkata = next_occurrence(EVERY_DAY, time(9, 0), KOLKATA, now)
    assert local(in_kolkata, KOLKATA).strftime("%d %H:%M %Z") == "01 09:00 IST"
    assert in_kolkata == datetime(2026, 6, 1, 3, 30, tzinfo=UTC)
    assert in_kolkata != in_london
    following = walk(EVERY_DAY, time(9, 0), KOLKATA, in_kolkata, 3)
    assert [local(i, KOLKATA).strftime("%d %H:%M") for i in following] == [
        "02 09:00",
        "03 09:00",
        "04 09:00",
    ]


def test_moving_midweek_keeps_the_chosen_weekdays_in_the_new_zone():
    mask = parse_days("mon,wed,fri")
    now = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)  # Tuesday
    for zone_name in (LONDON, KOLKATA, "Pacific/Chatham", "America/Santiago"):
        fired = local(next_occurrence(mask, time(9, 0), zone_name, now), zone_name)
        assert fired.strftime("%a %H:%M") == "Wed 09:00"


# ── quiet hours ────────────────────────────────────────────────────────────────

LUNCH = Quiet(time(13, 0), time(14, 0))
NIGHT = Quiet(time(22, 0), time(7, 30))


@pytest.mark.parametrize(
    ("quiet", "moment", "inside"),
    [
        (LUNCH, time(12, 59), False),
        (LUNCH, time(13, 0), True),
        (LUNCH, time(13, 30), True),
        (LUNCH, time(13, 59), True),
        (LUNCH, time(14, 0), False),
        (LUNCH, time(23, 0), False),
        (NIGHT, time(21, 59), False),
        (NIGHT, time(22, 0), True),
        (NIGHT, time(23, 59), True),
        (NIGHT, time(0, 0), True),
        (NIGHT, time(3, 0), True),
        (NIGHT, time(7, 29), True),
        (NIGHT, time(7, 30), False),
        (NIGHT, time(12, 0), False),
    ],
)
def test_quiet_contains(quiet, moment, inside):
    assert quiet.contains(moment) is inside


def test_quiet_shows_as_a_range():
    assert str(NIGHT) == "22:00–07:30"
    assert str(LUNCH) == "13:00–14:00"


@pytest.mark.parametrize(
    ("quiet", "due", "sent"),
    [
        # inside the day
        (LUNCH, (2026, 2, 4, 13, 0), (2026, 2, 4, 14, 0)),
        (LUNCH, (2026, 2, 4, 13, 45), (2026, 2, 4, 14, 0)),
        (LUNCH, (2026, 2, 4, 12, 59), (2026, 2, 4, 12, 59)),
        (LUNCH, (2026, 2, 4, 14, 0), (2026, 2, 4, 14, 0)),
        # wrapping midnight: before midnight → tomorrow morning, after → this morning
        (NIGHT, (2026, 2, 4, 22, 0), (2026, 2, 5, 7, 30)),
        (NIGHT, (2026, 2, 4, 23, 15), (2026, 2, 5, 7, 30)),
        (NIGHT, (2026, 2, 5, 0, 0), (2026, 2, 5, 7, 30)),
        (NIGHT, (2026, 2, 5, 6, 0), (2026, 2, 5, 7, 30)),
        (NIGHT, (2026, 2, 5, 7, 30), (2026, 2, 5, 7, 30)),
        (NIGHT, (2026, 2, 5, 21, 59), (2026, 2, 5, 21, 59)),
        (NIGHT, (2026, 2, 5, 12, 0), (2026, 2, 5, 12, 0)),
        # end of a month and of a year
        (NIGHT, (2026, 2, 28, 23, 0), (2026, 3, 1, 7, 30)),
        (NIGHT, (2026, 12, 31, 23, 0), (2027, 1, 1, 7, 30)),
    ],
)
@pytest.mark.parametrize("zone_name", [LONDON, NEW_YORK, KOLKATA, LORD_HOWE])
def test_after_quiet(quiet, due, sent, zone_name):
    instant = at_local(zone_name, *due)
    result = after_quiet(instant, zone_name, quiet)
    assert local(result, zone_name).replace(tzinfo=None) == datetime(*sent)
    assert result >= instant


@pytest.mark.parametrize(
    ("zone_name", "due", "sent", "sent_zone"),
    [
        # the night the clocks go forward: 07:30 the next morning is summer time
        (LONDON, (2026, 3, 28, 23, 0), datetime(2026, 3, 29, 6, 30), "BST"),
        (LONDON, (2026, 3, 29, 0, 30), datetime(2026, 3, 29, 6, 30), "BST"),
        (LONDON, (2026, 3, 29, 3, 0), datetime(2026, 3, 29, 6, 30), "BST"),
        (NEW_YORK, (2026, 3, 7, 22, 30), datetime(2026, 3, 8, 11, 30), "EDT"),
        (NEW_YORK, (2026, 3, 8, 3, 30), datetime(2026, 3, 8, 11, 30), "EDT"),
        # the night they go back: 07:30 the next morning is winter time
        (LONDON, (2026, 10, 24, 23, 0), datetime(2026, 10, 25, 7, 30), "GMT"),
        (LONDON, (2026, 10, 25, 1, 30), datetime(2026, 10, 25, 7, 30), "GMT"),
        (NEW_YORK, (2026, 10, 31, 23, 0), datetime(2026, 11, 1, 12, 30), "EST"),
        (LORD_HOWE, (2026, 4, 4, 23, 0), datetime(2026, 4, 4, 21, 0), "+1030"),
        (LORD_HOWE, (2026, 10, 3, 23, 0), datetime(2026, 10, 3, 20, 30), "+11"),
    ],
)
def test_after_quiet_across_a_dst_change_night(zone_name, due, sent, sent_zone):
    instant = at_local(zone_name, *due)
    result = after_quiet(instant, zone_name, NIGHT)
    assert result == sent.replace(tzinfo=UTC)
    shown = local(result, zone_name)
    assert shown.strftime("%H:%M") == "07:30"
    assert shown.tzname() == sent_zone


def test_quiet_hours_ending_in_a_missing_hour_end_at_the_first_valid_minute():
    quiet = Quiet(time(22, 0), time(2, 30))  # 02:30 does not exist in New York on 8 Mar
    result = after_quiet(at_local(NEW_YORK, 2026, 3, 7, 23, 0), NEW_YORK, quiet)
    assert local(result, NEW_YORK).strftime("%d %H:%M %Z") == "08 03:00 EDT"


def test_quiet_hours_ending_in_the_repeated_hour_hold_the_second_pass_too():
    # London, 25 Oct 2026: the clock shows 01:00-01:59 twice (BST, then GMT).
    # Quiet hours 22:00-01:30; a nudge (a snooze, a catch-up after downtime) falls due at
    # 01:10 GMT, when the clock on the wall reads 01:10 — inside quiet hours.
    quiet = Quiet(time(22, 0), time(1, 30))
    due = datetime(2026, 10, 25, 1, 10, tzinfo=UTC)  # 01:10 GMT, the second 01:10
    assert local(due, LONDON).strftime("%H:%M %Z") == "01:10 GMT"
    assert quiet.contains(local(due, LONDON).time())
    sent = after_quiet(due, LONDON, quiet)
    # today it returns `due` unchanged: the phone buzzes at 01:10 with quiet hours on
    assert not quiet.contains(local(sent, LONDON).time())
    assert local(sent, LONDON).strftime("%H:%M %Z") == "01:30 GMT"


def test_quiet_hours_ending_in_the_repeated_hour_hold_the_first_pass():
    quiet = Quiet(time(22, 0), time(1, 30))
    due = at_local(LONDON, 2026, 10, 25, 0, 45)  # 00:45 BST
    sent = after_quiet(due, LONDON, quiet)
    assert local(sent, LONDON).strftime("%H:%M %Z") == "01:30 BST"


def test_no_quiet_hours_changes_nothing():
    instant = at_local(LONDON, 2026, 2, 4, 23, 0)
    assert after_quiet(instant, LONDON, None) == instant


@SETTINGS
@given(
    zone_names,
    afters,
    st.builds(Quiet, times_of_day, times_of_day).filter(lambda q: q.start != q.end),
)
def test_after_quiet_property(zone_name, instant, quiet):
    shown = local(instant, zone_name)
    result = after_quiet(instant, zone_name, quiet)
    if not quiet.contains(shown.time().replace(second=0, microsecond=0)):
        assert result == instant
        return
    assert result > instant
    assert result - instant <= timedelta(hours=25)
    arrived = local(result, zone_name)
    assert not quiet.contains(arrived.time()) or arrived.time() == quiet.end
    if exists(datetime.combine(arrived.date(), quiet.end), zone_name):
        assert arrived.time() == quiet.end


@pytest.mark.parametrize(
    ("typed", "start", "end"),
    [
        ("22:00-07:30", time(22, 0), time(7, 30)),
        ("22:00–07:30", time(22, 0), time(7, 30)),
        ("22:00—07:30", time(22, 0), time(7, 30)),
        ("22:00 - 07:30", time(22, 0), time(7, 30)),
        ("10pm to 7am", time(22, 0), time(7, 0)),
        ("10pm-7am", time(22, 0), time(7, 0)),
        ("13:00-14:00", time(13, 0), time(14, 0)),
        ("  23.15 to 6.45  ", time(23, 15), time(6, 45)),
    ],
)
def test_parse_quiet_accepts(typed, start, end):
    assert parse_quiet(typed) == Quiet(start, end)


@pytest.mark.parametrize(
    "typed",
    ["25:00-07:00", "22:00", "07:00-07:00", "22:00-", "-07:30", "off", "", "22:00-07:30-09:00"],
)
def test_parse_quiet_refuses(typed):
    assert parse_quiet(typed) is None


# ── reading times and days ─────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("17:30", time(17, 30)),
        ("9:05", time(9, 5)),
        ("08.30", time(8, 30)),
        ("00:00", time(0, 0)),
        ("23:59", time(23, 59)),
        ("7pm", time(19, 0)),
        ("7 PM", time(19, 0)),
        ("7:15 am", time(7, 15)),
        ("7.45pm", time(19, 45)),
        ("12am", time(0, 0)),
        ("12pm", time(12, 0)),
        ("12:30am", time(0, 30)),
        (" 06:00 ", time(6, 0)),
    ],
)
def test_parse_time_accepts(typed, expected):
    assert parse_time(typed) == expected


@pytest.mark.parametrize(
    "typed",
    ["25:00", "24:00", "12:60", "13pm", "0am", "0pm", "7", "1730", "17:3", "noon", "", "7:30 xm"],
)
def test_parse_time_refuses(typed):
    assert parse_time(typed) is None


@pytest.mark.parametrize(
    ("typed", "weekdays"),
    [
        *DAY_FORMS,
        ("Daily", {MON, TUE, WED, THU, FRI, SAT, SUN}),
        ("every day", {MON, TUE, WED, THU, FRI, SAT, SUN}),
        ("weekday", {MON, TUE, WED, THU, FRI}),
        ("weekend", {SAT, SUN}),
        ("Mon, Wed, Fri", {MON, WED, FRI}),
        ("mon wed fri", {MON, WED, FRI}),
        ("Monday", {MON}),
        ("tues,thurs", {TUE, THU}),
        ("sat-sun", {SAT, SUN}),
        ("mon-wed,sat", {MON, TUE, WED, SAT}),
        ("sun-sun", {SUN}),
    ],
)
def test_parse_days_accepts(typed, weekdays):
    mask = parse_days(typed)
    assert mask is not None
    assert {i for i in range(7) if mask & (1 << i)} == weekdays


@pytest.mark.parametrize(
    "typed", ["funday", "", "  ", "mon,funday", "mon-funday", "mon-", "17:30", "weekly"]
)
def test_parse_days_refuses(typed):
    assert parse_days(typed) is None


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("daily", "every day"),
        ("mon-sun", "every day"),
        ("weekdays", "weekdays"),
        ("mon-fri", "weekdays"),
        ("weekends", "weekends"),
        ("saturday,sunday", "weekends"),
        ("mon,wed,fri", "Mon, Wed, Fri"),
        ("fri,wed,mon", "Mon, Wed, Fri"),
        ("sun", "Sun"),
        ("fri-mon", "Mon, Fri, Sat, Sun"),
    ],
)
def test_describe_days(typed, words):
    assert describe_days(parse_days(typed)) == words
