"""The /progress chart: feelings before → after per record, and homework done per week.
Drawn with matplotlib's object API on the Agg canvas (no GUI, no global pyplot state), so it
can run in a worker thread."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flows.content import load
from flows.progress import HOMEWORK_KINDS, NudgePoint, RecordPoint

WEEKS = 8
COLOURS = {"compassion": "#7fb77e", "walk": "#5b8fd6", "call": "#e0a84f"}


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def render(records: list[RecordPoint], nudges: list[NudgePoint], zone: str, now: datetime) -> bytes:
    """PNG bytes. Callers skip it when there is nothing to draw."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    words = load("progress")
    tz = ZoneInfo(zone)
    figure = Figure(figsize=(9, 3.6), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    feelings, homework = figure.subplots(1, 2, width_ratios=[3, 2])

    rated = sorted((r for r in records if r.after is not None), key=lambda r: r.completed_at)[-20:]
    x = list(range(1, len(rated) + 1))
    feelings.plot(x, [r.before for r in rated], "o-", color="#c0504d", label=words["chart_before"])
    feelings.plot(x, [r.after for r in rated], "o-", color="#4f81bd", label=words["chart_after"])
    feelings.set_ylim(0, 100)
    feelings.set_xticks(x, [f"{r.completed_at.astimezone(tz):%d %b}" for r in rated], rotation=45)
    feelings.set_title(words["chart_title_feelings"], fontsize=10)
    if rated:
        feelings.legend(loc="upper right", fontsize=8)
    feelings.grid(axis="y", alpha=0.3)

    this_week = _monday(now.astimezone(tz).date())
    weeks = [this_week - timedelta(weeks=w) for w in range(WEEKS - 1, -1, -1)]
    bottom = [0] * WEEKS
    for kind in HOMEWORK_KINDS:
        counts = [0] * WEEKS
        for n in nudges:
            if n.kind == kind and n.status == "done":
                week = _monday((n.answered_at or n.due_at).astimezone(tz).date())
                if week in weeks:
                    counts[weeks.index(week)] += 1
        homework.bar(
            range(WEEKS), counts, bottom=bottom, color=COLOURS[kind], label=words["kinds"][kind]
        )
        bottom = [a + b for a, b in zip(bottom, counts, strict=True)]
    homework.set_xticks(range(WEEKS), [f"{w:%d %b}" for w in weeks], rotation=45)
    homework.set_title(words["chart_title_homework"], fontsize=10)
    homework.set_ylim(0, max(3, max(bottom)) * 1.3)  # room above the bars for the legend
    homework.legend(loc="upper left", fontsize=8, ncols=3)
    homework.yaxis.get_major_locator().set_params(integer=True)

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
