"""Progress as numbers: what was done, how feelings changed, streaks. Pure functions over a
person's history, so every figure can be checked against a history built by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import fmean
from zoneinfo import ZoneInfo

from flows.content import load, text

HOMEWORK_KINDS = ("compassion", "walk", "call")
COUNTED = ("done", "skipped", "missed", "failed", "sent")  # scheduled and already due


@dataclass(frozen=True)
class RecordPoint:
    completed_at: datetime
    before: float  # mean intensity of the record's emotions, first rating
    after: float | None  # mean of the re-ratings


@dataclass(frozen=True)
class NudgePoint:
    kind: str
    status: str
    due_at: datetime
    answered_at: datetime | None = None


@dataclass(frozen=True)
class WinPoint:
    created_at: datetime
    text: str


@dataclass
class KindCount:
    done: int = 0
    scheduled: int = 0
    skipped: int = 0
    missed: int = 0


@dataclass
class Period:
    days: int
    records: int = 0
    before: float | None = None
    after: float | None = None
    homework: dict[str, KindCount] = field(
        default_factory=lambda: {k: KindCount() for k in HOMEWORK_KINDS}
    )
    wins: int = 0

    @property
    def change(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before


@dataclass
class Progress:
    periods: list[Period]
    current_streak: int
    best_streak: int
    latest_wins: list[WinPoint]

    @property
    def empty(self) -> bool:
        return all(p.records == 0 and p.wins == 0 for p in self.periods) and not any(
            c.scheduled for p in self.periods for c in p.homework.values()
        )


def summarise(
    records: list[RecordPoint],
    nudges: list[NudgePoint],
    wins: list[WinPoint],
    zone: str,
    now: datetime,
    periods: tuple[int, ...] = (7, 30),
) -> Progress:
    result = []
    for days in periods:
        since = now - timedelta(days=days)
        period = Period(days)
        chosen = [r for r in records if since < r.completed_at <= now]
        period.records = len(chosen)
        rated = [r for r in chosen if r.after is not None]
        if rated:
            period.before = fmean(r.before for r in rated)
            period.after = fmean(r.after for r in rated if r.after is not None)
        for n in nudges:
            if n.kind in period.homework and since < n.due_at <= now and n.status in COUNTED:
                count = period.homework[n.kind]
                count.scheduled += 1
                count.done += n.status == "done"
                count.skipped += n.status == "skipped"
                count.missed += n.status in ("missed", "failed")
        period.wins = sum(1 for w in wins if since < w.created_at <= now)
        result.append(period)
    current, best = streaks(active_days(records, nudges, wins, zone), _local_day(now, zone))
    latest = sorted((w for w in wins if w.created_at <= now), key=lambda w: w.created_at)
    return Progress(result, current, best, latest[-3:][::-1])


def _local_day(instant: datetime, zone: str) -> date:
    return instant.astimezone(ZoneInfo(zone)).date()


def active_days(
    records: list[RecordPoint], nudges: list[NudgePoint], wins: list[WinPoint], zone: str
) -> set[date]:
    """Local calendar days on which the person did some homework: a record, a nudge done,
    or a win logged. Days are the person's own, so a 23:30 walk counts for that evening."""
    days = {_local_day(r.completed_at, zone) for r in records}
    days |= {_local_day(n.answered_at or n.due_at, zone) for n in nudges if n.status == "done"}
    days |= {_local_day(w.created_at, zone) for w in wins}
    return days


def streaks(days: set[date], today: date) -> tuple[int, int]:
    """(current, best) runs of consecutive active days. Today not done yet doesn't break the
    current streak: it still counts up to yesterday."""
    best = run = 0
    previous: date | None = None
    for day in sorted(days):
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        best = max(best, run)
        previous = day
    current = 0
    day = today if today in days else today - timedelta(days=1)
    while day in days:
        current += 1
        day -= timedelta(days=1)
    return current, best


def record_point(completed_at: datetime, emotions: list[dict[str, int | None]]) -> RecordPoint:
    befores = [e["before"] for e in emotions if e.get("before") is not None]
    afters = [e["after"] for e in emotions if e.get("after") is not None]
    return RecordPoint(
        completed_at,
        fmean(befores) if befores else 0.0,  # type: ignore[arg-type]
        fmean(afters) if afters else None,  # type: ignore[arg-type]
    )


def _text(path: str, **values: object) -> str:
    return text("progress", path, **values)


def describe(progress: Progress) -> str:
    """The short text beside the chart."""
    if progress.empty:
        return _text("empty")
    lines = [_text("header")]
    for period in progress.periods:
        lines += ["", _text("period", days=period.days), *_figures(period)]
        if period.wins:
            lines.append(_text("wins", count=period.wins))
    lines += ["", *_streak_and_wins(progress)]
    return "\n".join(lines)


def _figures(period: Period) -> list[str]:
    """Records, feelings before → after, and homework done, as the person reads them."""
    lines = [_text("records", count=period.records)]
    if period.change is not None:
        before, after = round(period.before or 0), round(period.after or 0)
        lines.append(_text("intensity", before=before, after=after, change=_signed(after - before)))
    names = load("progress")["kinds"]
    for kind, count in period.homework.items():
        if count.scheduled:
            lines.append(
                _text(
                    "homework",
                    name=names[kind],
                    done=count.done,
                    scheduled=count.scheduled,
                    skipped=count.skipped,
                    missed=count.missed,
                )
            )
    return lines


def _streak_and_wins(progress: Progress) -> list[str]:
    lines = [_text("streaks", current=progress.current_streak, best=progress.best_streak)]
    if progress.latest_wins:
        lines.append(_text("latest_wins"))
        lines.extend(f"• {w.text[:120]}" for w in progress.latest_wins)
    return lines


def _signed(value: float) -> str:
    rounded = round(value)
    return f"−{abs(rounded)}" if rounded < 0 else f"+{rounded}" if rounded > 0 else "±0"


def weekly(progress: Progress) -> str:
    """The Sunday summary: the week in numbers, the wins, and a pointer to /export."""
    week = progress.periods[0]
    lines = [_text("weekly.header"), ""]
    busy = week.records or week.wins or any(c.done for c in week.homework.values())
    if not busy:
        lines.append(_text("weekly.quiet"))
    else:
        lines += [*_figures(week), *_streak_and_wins(progress)]
    lines += ["", _text("weekly.export")]
    return "\n".join(lines)
