"""CSV files a client can hand to their therapist: one per kind of record, UTF-8, a header
row, ISO-8601 times with the client's own offset, quoted by the csv module."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flows.record import trap_names


@dataclass(frozen=True)
class RecordRow:
    started_at: datetime
    completed_at: datetime
    situation: str
    emotions: str  # JSON list of {"name", "before", "after"}
    hot_thought: str
    evidence_for: str
    evidence_against: str
    traps: str  # JSON list of keys
    balanced_thought: str
    belief: int | None


@dataclass(frozen=True)
class NudgeRow:
    kind: str
    status: str
    due_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None
    snoozes: int
    follow_up: str | None
    note: str | None


@dataclass(frozen=True)
class WinRow:
    created_at: datetime
    text: str


def _iso(instant: datetime | None, zone: ZoneInfo) -> str:
    return "" if instant is None else instant.astimezone(zone).isoformat(timespec="seconds")


def _csv(header: list[str], rows: Iterable[list[object]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def thought_records_csv(rows: list[RecordRow], zone_name: str) -> bytes:
    zone, names = ZoneInfo(zone_name), trap_names()

    def line(r: RecordRow) -> list[object]:
        emotions = json.loads(r.emotions)
        return [
            _iso(r.started_at, zone),
            _iso(r.completed_at, zone),
            r.situation,
            "; ".join(f"{e['name']} {e['before']}" for e in emotions),
            "; ".join(f"{e['name']} {e['after']}" for e in emotions if e.get("after") is not None),
            r.hot_thought,
            r.evidence_for,
            r.evidence_against,
            "; ".join(names.get(k, k) for k in json.loads(r.traps)),
            r.balanced_thought,
            "" if r.belief is None else r.belief,
        ]

    header = [
        "started_at", "completed_at", "situation", "emotions_before", "emotions_after",
        "hot_thought", "evidence_for", "evidence_against", "thinking_traps",
        "balanced_thought", "belief",
    ]  # fmt: skip
    return _csv(header, (line(r) for r in rows))


def nudges_csv(rows: list[NudgeRow], zone_name: str) -> bytes:
    zone = ZoneInfo(zone_name)
    header = [
        "kind", "status", "scheduled_at", "sent_at", "answered_at", "snoozes",
        "follow_up", "note",
    ]  # fmt: skip
    return _csv(
        header,
        (
            [
                r.kind, r.status, _iso(r.due_at, zone), _iso(r.sent_at, zone),
                _iso(r.answered_at, zone), r.snoozes, r.follow_up or "", r.note or "",
            ]
            for r in rows
        ),
    )  # fmt: skip


def wins_csv(rows: list[WinRow], zone_name: str) -> bytes:
    zone = ZoneInfo(zone_name)
    return _csv(["logged_at", "win"], ([_iso(r.created_at, zone), r.text] for r in rows))
