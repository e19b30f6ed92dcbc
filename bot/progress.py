"""Wins, /progress and /export inside the service."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.turn import TurnBase
from flows import export, pdf_export, progress, progress_chart
from flows.content import text
from flows.replies import Attachment, Reply
from storage import progress as history
from storage.models import Nudge, ThoughtRecord, Win

WIN = "win"
CHART_WEEKS = 8
MAX_WIN = 500


def _say(path: str, **values: object) -> str:
    return text("progress", path, **values)


class ProgressTurn(TurnBase):
    # ── wins ───────────────────────────────────────────────────────────────────

    async def win(self, args: str) -> list[Reply]:
        if args.strip():
            return await self._save_win(args)
        self.set_flow(WIN)
        return [Reply(_say("win.ask"))]

    async def win_text(self, typed: str) -> list[Reply]:
        self.set_flow(None)
        if not typed.strip():
            return [Reply(_say("win.empty"))]
        return await self._save_win(typed)

    async def _save_win(self, typed: str) -> list[Reply]:
        text = " ".join(typed.split())[:MAX_WIN]
        await history.add_win(self.session, self.user.id, text, self.now)
        return [Reply(_say("win.saved", text=text))]

    async def wins_offer(self) -> Reply | None:
        """The person's own recent wins, offered as evidence against a hot thought."""
        wins = await history.wins_of(self.session, self.user.id, limit=3)
        if not wins:
            return None
        lines = [_say("win.offer"), *(f"• {w.text[:200]}" for w in wins)]
        return Reply("\n".join(lines))

    # ── /progress ──────────────────────────────────────────────────────────────

    async def progress(self, _args: str) -> list[Reply]:
        since = self.now - timedelta(weeks=CHART_WEEKS)
        records, nudges, wins = await history_points(self.session, self.user.id, since)
        zone = self.zone_name()
        summary = progress.summarise(records, nudges, wins, zone, self.now)
        replies = [Reply(progress.describe(summary))]
        if not summary.empty:
            now = self.now
            chart = Attachment(
                b"",
                "progress.png",
                "photo",
                make=lambda: progress_chart.render(records, nudges, zone, now),
            )
            replies.append(Reply(_say("chart_caption"), attachment=chart))
        return replies

    # ── /export ────────────────────────────────────────────────────────────────

    async def export(self, args: str) -> list[Reply]:
        digits = args.strip()
        days = int(digits) if digits.isdecimal() and 0 < int(digits) < 100_000 else None
        files = await export_attachments(self, days)
        period = _say("export.days", days=days) if days else _say("export.all")
        documents = [Reply(a.filename, attachment=a) for a in files]
        return [Reply(_say("export.lead", period=period)), *documents]


async def history_points(
    session: AsyncSession, user_id: int, since: datetime
) -> tuple[list[progress.RecordPoint], list[progress.NudgePoint], list[progress.WinPoint]]:
    """A person's records, nudges and wins since `since`, as the statistics read them."""
    records = [_point(r) for r in await history.records_of(session, user_id, since)]
    nudges = [
        progress.NudgePoint(n.kind, n.status, n.due_at, n.answered_at)
        for n in await history.nudges_of(session, user_id, since)
    ]
    wins = [
        progress.WinPoint(w.created_at, w.text)
        for w in await history.wins_of(session, user_id, since)
    ]
    return records, nudges, wins


async def weekly_summary_text(session: AsyncSession, user_id: int, now: datetime, zone: str) -> str:
    """The week in numbers for one person (the streak looks a day further back)."""
    since = now - timedelta(days=8)
    records, nudges, wins = await history_points(session, user_id, since)
    return progress.weekly(progress.summarise(records, nudges, wins, zone, now, periods=(7,)))


def _point(record: ThoughtRecord) -> progress.RecordPoint:
    return progress.record_point(record.completed_at, json.loads(record.emotions))


async def export_files(turn: TurnBase, days: int | None) -> list[tuple[str, bytes]]:
    """The export's files — a readable PDF and three CSVs — for `coach export`."""
    return [(a.filename, a.rendered().data) for a in await export_attachments(turn, days)]


async def export_attachments(turn: TurnBase, days: int | None) -> list[Attachment]:
    """The export as attachments; the PDF is drawn only after the transaction ends."""
    since = turn.now - timedelta(days=days) if days else None
    uid, zone = turn.user.id, turn.zone_name()
    records: list[ThoughtRecord] = await history.records_of(turn.session, uid, since)
    nudges: list[Nudge] = await history.nudges_of(turn.session, uid, since)
    wins: list[Win] = list(reversed(await history.wins_of(turn.session, uid, since)))
    record_rows = [
        export.RecordRow(
            r.started_at, r.completed_at, r.situation, r.emotions, r.hot_thought,
            r.evidence_for, r.evidence_against, r.traps, r.balanced_thought, r.belief,
        )
        for r in records
    ]  # fmt: skip
    nudge_rows = [
        export.NudgeRow(
            n.kind, n.status, n.due_at, n.sent_at, n.answered_at, n.snoozes, n.follow_up, n.note
        )
        for n in nudges
        if n.kind in progress.HOMEWORK_KINDS
    ]
    win_rows = [export.WinRow(w.created_at, w.text) for w in wins]
    summary = progress.summarise(
        [_point(r) for r in records],
        [progress.NudgePoint(n.kind, n.status, n.due_at, n.answered_at) for n in nudges],
        [progress.WinPoint(w.created_at, w.text) for w in wins],
        zone,
        turn.now,
        periods=(days or 365 * 100,),
    )
    period = _say("export.days", days=days) if days else _say("export.all")
    data = pdf_export.PdfInput(period, turn.now, zone, summary, record_rows, nudge_rows, win_rows)
    return [
        Attachment(b"", "homework-coach.pdf", make=lambda: pdf_export.render(data)),
        Attachment(export.thought_records_csv(record_rows, zone), "thought_records.csv"),
        Attachment(export.nudges_csv(nudge_rows, zone), "nudges.csv"),
        Attachment(export.wins_csv(win_rows, zone), "wins.csv"),
    ]
