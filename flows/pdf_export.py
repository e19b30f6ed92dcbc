"""The readable export: a PDF a client can bring to their next session.

fpdf2 lays it out; the fonts are embedded from installed packages (DejaVu Sans from
matplotlib, Noto Emoji from manimgx-fonts), never fetched, so Cyrillic, Hebrew and emoji survive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flows.content import load
from flows.export import NudgeRow, RecordRow, WinRow
from flows.progress import Progress
from flows.record import trap_names

FONT = "dejavu"


@dataclass(frozen=True)
class PdfInput:
    period: str  # "the last 30 days", "everything so far"
    generated_at: datetime
    zone: str
    progress: Progress
    records: list[RecordRow]
    nudges: list[NudgeRow]
    wins: list[WinRow]


def _fonts(pdf: object) -> None:
    import matplotlib

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdf.add_font(FONT, fname=str(ttf / "DejaVuSans.ttf"))  # type: ignore[attr-defined]
    pdf.add_font(FONT, style="B", fname=str(ttf / "DejaVuSans-Bold.ttf"))  # type: ignore[attr-defined]
    try:
        import manimgx_fonts

        emoji = Path(manimgx_fonts.__file__).parent / "NotoEmoji[wght].ttf"
        pdf.add_font("emoji", fname=str(emoji), variations={"wght": 400})  # type: ignore[attr-defined]
        pdf.set_fallback_fonts(["emoji"])  # type: ignore[attr-defined]
    except (ImportError, OSError):  # without it, emoji are left out of the PDF (not the CSV)
        pass


def render(data: PdfInput) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    words = load("pdf")
    zone = ZoneInfo(data.zone)
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    _fonts(pdf)
    heading = FontFace(family=FONT, emphasis="BOLD", fill_color=(232, 238, 246))

    def para(text: str, height: float = 6) -> None:
        pdf.multi_cell(0, height, text, new_x="LMARGIN", new_y="NEXT")

    def title(text: str, size: int = 16) -> None:
        pdf.set_font(FONT, "B", size)
        para(text, size * 0.55)
        pdf.ln(2)
        pdf.set_font(FONT, size=10)

    def when(instant: datetime | None) -> str:
        return "" if instant is None else f"{instant.astimezone(zone):%a %d %b %Y %H:%M}"

    # cover
    pdf.add_page()
    title(words["title"], 22)
    pdf.set_font(FONT, size=12)
    cover = words["cover"].format(
        period=data.period, generated=when(data.generated_at), zone=data.zone
    )
    para(cover, 7)
    pdf.ln(4)
    title(words["headline"], 14)
    pdf.set_font(FONT, size=12)
    for line in _headline(data.progress, words):
        para(line, 7)

    # thought records, seven columns each
    names = trap_names()
    pdf.add_page()
    title(words["records_title"])
    if not data.records:
        para(words["none"])
    for record in data.records:
        emotions = json.loads(record.emotions)
        pdf.set_font(FONT, "B", 11)
        para(when(record.completed_at))
        pdf.set_font(FONT, size=8)
        traps = ", ".join(names.get(k, k) for k in json.loads(record.traps))
        belief = f" ({words['belief']} {record.belief}/100)" if record.belief is not None else ""
        with pdf.table(headings_style=heading, text_align="LEFT", line_height=4) as table:
            table.row(list(words["columns"]))
            table.row(
                [
                    record.situation,
                    "\n".join(f"{e['name']} {e['before']}" for e in emotions),
                    record.hot_thought,
                    record.evidence_for,
                    record.evidence_against + (f"\n\n{words['traps']}: {traps}" if traps else ""),
                    record.balanced_thought + belief,
                    "\n".join(
                        f"{e['name']} {e['before']} → {e['after']}"
                        for e in emotions
                        if e.get("after") is not None
                    ),
                ]
            )
        pdf.ln(4)

    # homework log
    pdf.add_page()
    title(words["homework_title"])
    pdf.set_font(FONT, size=9)
    homework = [n for n in data.nudges if n.kind in ("compassion", "walk", "call")]
    if not homework:
        para(words["none"])
    else:
        with pdf.table(
            headings_style=heading, text_align="LEFT", col_widths=(2, 3, 3, 3, 2, 2)
        ) as table:
            table.row(list(words["homework_columns"]))
            for n in homework:
                table.row(
                    [
                        words["kinds"][n.kind],
                        when(n.due_at),
                        when(n.sent_at),
                        when(n.answered_at),
                        words["statuses"].get(n.status, n.status),
                        n.follow_up or "",
                    ]
                )

    # wins and journal
    pdf.ln(6)
    title(words["wins_title"])
    pdf.set_font(FONT, size=10)
    for win in data.wins or []:
        para(f"• {when(win.created_at)} — {win.text}")
    if not data.wins:
        para(words["none"])
    pdf.ln(6)
    title(words["journal_title"])
    pdf.set_font(FONT, size=10)
    journal = [n for n in data.nudges if n.note]
    for n in journal:
        label = words["kinds"][n.kind]
        para(f"• {when(n.answered_at)} ({label}) — {n.note}")
    if not journal:
        para(words["none"])
    return bytes(pdf.output())


def _headline(progress: Progress, words: dict) -> list[str]:
    period = progress.periods[-1]
    lines = [words["headline_records"].format(count=period.records)]
    if period.change is not None:
        lines.append(
            words["headline_feelings"].format(
                before=round(period.before or 0), after=round(period.after or 0)
            )
        )
    for kind, count in period.homework.items():
        if count.scheduled:
            lines.append(
                words["headline_homework"].format(
                    name=words["kinds"][kind], done=count.done, scheduled=count.scheduled
                )
            )
    lines.append(words["headline_wins"].format(count=period.wins))
    lines.append(
        words["headline_streak"].format(current=progress.current_streak, best=progress.best_streak)
    )
    return lines
