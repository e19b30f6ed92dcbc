"""When a reminder fires: wall-clock times in the user's IANA zone, across DST and quiet hours.

Rules (PRODUCT.md, Nudges):
- a local time that does not exist that day (spring forward) fires at the first valid minute
  after it;
- a local time that occurs twice (fall back) fires once, at its first occurrence;
- a nudge due inside quiet hours arrives when they end.
All instants in and out are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EVERY_DAY = 0b1111111
WEEKDAYS = 0b0011111
WEEKENDS = 0b1100000
_LONG_NAMES = {
    "monday": 0,
    "tuesday": 1,
    "tues": 1,
    "wednesday": 2,
    "thursday": 3,
    "thur": 3,
    "thurs": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
_GROUPS = {
    "daily": EVERY_DAY,
    "everyday": EVERY_DAY,
    "weekdays": WEEKDAYS,
    "weekday": WEEKDAYS,
    "weekends": WEEKENDS,
    "weekend": WEEKENDS,
}
_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})\s*(am|pm)?$|^(\d{1,2})\s*(am|pm)$")


@dataclass(frozen=True)
class Quiet:
    """Quiet hours as local wall-clock times; may wrap past midnight (22:00–07:30)."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


def parse_time(text: str) -> time | None:
    """`17:30`, `9:05`, `08.30`, `7pm`, `7:15 am` → time; None if it is not a real time."""
    match = _TIME.match(text.strip().lower())
    if not match:
        return None
    if match.group(4) is not None:
        hour, minute, half = int(match.group(4)), 0, match.group(5)
    else:
        hour, minute, half = int(match.group(1)), int(match.group(2)), match.group(3)
    if half is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def parse_days(text: str) -> int | None:
    """`daily`, `weekdays`, `weekends,sat`, `mon,wed,fri`, `sun`, `Mondays`, `mon-fri` → bit
    mask (bit 0 = Monday); None if any part is not a day."""
    word = " ".join(text.strip().lower().split())
    if word in ("every day", "each day"):
        return EVERY_DAY
    mask = 0
    for part in re.split(r"[,\s/&+]+", word):
        if not part or part == "and":
            continue
        if part in _GROUPS:
            mask |= _GROUPS[part]
            continue
        if "-" in part:
            first, _, last = part.partition("-")
            a, b = _day_index(first), _day_index(last)
            if a is None or b is None:
                return None
            span = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
            for index in span:
                mask |= 1 << index
            continue
        index = _day_index(part)
        if index is None:
            return None
        mask |= 1 << index
    return mask or None


def _day_index(word: str) -> int | None:
    word = word.strip(".").lower()
    if word in DAY_NAMES:
        return DAY_NAMES.index(word)
    if word.endswith("s") and word[:-1] in _LONG_NAMES:  # "mondays"
        word = word[:-1]
    return _LONG_NAMES.get(word)


def describe_days(mask: int) -> str:
    """The mask in words: "every day", "weekdays", "Mon, Wed, Fri"."""
    if mask == EVERY_DAY:
        return "every day"
    if mask == WEEKDAYS:
        return "weekdays"
    if mask == WEEKENDS:
        return "weekends"
    return ", ".join(DAY_NAMES[i].capitalize() for i in range(7) if mask & (1 << i))


def _exists(naive: datetime, zone: ZoneInfo) -> bool:
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive


def wall_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant a wall-clock time happens on a day: its first occurrence if it happens
    twice, the first valid minute after it if it does not happen at all."""
    naive = datetime.combine(day, at)
    for _ in range(24 * 60):  # gaps are at most a few hours; this bound is never reached
        if _exists(naive, zone):
            return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
        naive += timedelta(minutes=1)
    raise ValueError(f"no valid local time after {day} {at} in {zone.key}")


def next_occurrence(mask: int, at: time, zone_name: str, after: datetime) -> datetime:
    """The first instant strictly after `after` when a reminder for these days and this local
    time fires."""
    if not mask & EVERY_DAY:
        raise ValueError("a reminder needs at least one day")
    zone = ZoneInfo(zone_name)
    start = after.astimezone(zone).date() - timedelta(days=1)  # a gap can push into tomorrow
    for offset in range(9):
        day = start + timedelta(days=offset)
        if mask & (1 << day.weekday()):
            instant = wall_to_utc(day, at, zone)
            if instant > after:
                return instant
    raise AssertionError("unreachable: some day within 8 is chosen")


def after_quiet(instant: datetime, zone_name: str, quiet: Quiet | None) -> datetime:
    """When a nudge due at `instant` may be sent: then, or when quiet hours end."""
    if quiet is None:
        return instant
    zone = ZoneInfo(zone_name)
    local = instant.astimezone(zone)
    if not quiet.contains(local.time().replace(second=0, microsecond=0)):
        return instant
    day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        day += timedelta(days=1)  # started before midnight, ends tomorrow morning
    # The end's first occurrence; if the clocks went back over it and we are in the second
    # pass of that hour, its second occurrence (fold=1) is the one still ahead.
    for fold in (0, 1):
        naive = datetime.combine(day, quiet.end)
        if _exists(naive, zone):
            end = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        else:
            end = wall_to_utc(day, quiet.end, zone)
        if end > instant:
            return end
    return instant


def parse_quiet(text: str) -> Quiet | None:
    """`22:00-07:30` (also with – or "to") → Quiet; None when not two valid times."""
    parts = re.split(r"\s*(?:-|–|—|to)\s*", text.strip().lower())
    if len(parts) != 2:
        return None
    start, end = parse_time(parts[0]), parse_time(parts[1])
    if start is None or end is None or start == end:
        return None
    return Quiet(start, end)
