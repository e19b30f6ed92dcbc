"""/export as CSV: what a client hands to their therapist must read back exactly as written —
a header row, one row per item, any text, times with the client's own offset
(PRODUCT.md, /export)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from flows.export import NudgeRow, RecordRow, WinRow, nudges_csv, thought_records_csv, wins_csv
from flows.record import trap_names

LONDON = "Europe/London"
NEW_YORK = "America/New_York"

RECORD_HEADER = [
    "started_at",
    "completed_at",
    "situation",
    "emotions_before",
    "emotions_after",
    "hot_thought",
    "evidence_for",
    "evidence_against",
    "thinking_traps",
    "balanced_thought",
    "belief",
]
NUDGE_HEADER = [
    "kind",
    "status",
    "scheduled_at",
    "sent_at",
    "answered_at",
    "snoozes",
    "follow_up",
    "note",
]
WIN_HEADER = ["logged_at", "win"]

TRICKY = {
    "plain": "Boss criticised my report in the meeting",
    "commas": "at work, in the meeting, with Sam, after lunch",
    "quotes": 'He said "fine" and walked off — "fine", really?',
    "only a quote": '"',
    "lf": "first line\nsecond line\n\nfourth line",
    "crlf": "first line\r\nsecond line\r\n",
    "cr": "old mac\rline",
    "mixed": 'a, "b"\r\nc,\n"d",',
    "cyrillic": "Начальник раскритиковал мой отчёт, при всех",
    "hebrew": "הבוס ביקר את הדוח שלי, מול כולם",
    "rtl marks": "\u200fשלום\u200f, hello \u202bעולם\u202c",
    "emoji": "👍🏽 walked 🏃🏿‍♀️ with 👨‍👩‍👧‍👦 and 🏳️‍🌈, ok ❤️‍🔥",
    "spaces": "  leading and trailing  ",
    "tab and semicolon": "a\tb; c",
    "formula-looking": "=1+2, -3, @sum",
    "empty": "",
}


def parse(data: bytes) -> list[list[str]]:
    assert isinstance(data, bytes)
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def record(**changes: object) -> RecordRow:
    values: dict[str, object] = {
        "started_at": utc(2026, 3, 10, 9, 0),
        "completed_at": utc(2026, 3, 10, 9, 12, 30),
        "situation": "Boss criticised my report",
        "emotions": json.dumps(
            [
                {"name": "frustrated", "before": 80, "after": 40},
                {"name": "ashamed", "before": 60, "after": 35},
            ]
        ),
        "hot_thought": "I'm useless at this job",
        "evidence_for": "The report had two mistakes",
        "evidence_against": "Last month's report was praised",
        "traps": json.dumps(["labelling", "all_or_nothing"]),
        "balanced_thought": "I made two mistakes in one report; I can fix them",
        "belief": 70,
    }
    values.update(changes)
    return RecordRow(**values)  # type: ignore[arg-type]


def nudge_row(**changes: object) -> NudgeRow:
    values: dict[str, object] = {
        "kind": "walk",
        "status": "done",
        "due_at": utc(2026, 3, 10, 18, 0),
        "sent_at": utc(2026, 3, 10, 18, 0, 5),
        "answered_at": utc(2026, 3, 10, 19, 2),
        "snoozes": 1,
        "follow_up": "better",
        "note": "Went round the park",
    }
    values.update(changes)
    return NudgeRow(**values)  # type: ignore[arg-type]


def as_dicts(rows: list[list[str]]) -> list[dict[str, str]]:
    header, *body = rows
    assert all(len(row) == len(header) for row in body)
    return [dict(zip(header, row, strict=True)) for row in body]


# ── headers and shape ──────────────────────────────────────────────────────────


def test_empty_exports_are_just_the_header():
    assert parse(thought_records_csv([], LONDON)) == [RECORD_HEADER]
    assert parse(nudges_csv([], LONDON)) == [NUDGE_HEADER]
    assert parse(wins_csv([], LONDON)) == [WIN_HEADER]


def test_bytes_are_utf8_without_bom_with_crlf_lines():
    data = wins_csv([WinRow(utc(2026, 3, 10, 9), "ok")], LONDON)
    assert data.startswith(b"logged_at,win\r\n")
    assert data == b"logged_at,win\r\n2026-03-10T09:00:00+00:00,ok\r\n"


def test_one_row_per_item_in_order():
    wins = [WinRow(utc(2026, 3, d, 12), f"win {d}") for d in (3, 1, 2)]
    assert [row[1] for row in parse(wins_csv(wins, LONDON))[1:]] == ["win 3", "win 1", "win 2"]
    records = [record(situation=f"situation {n}") for n in range(5)]
    rows = parse(thought_records_csv(records, LONDON))
    assert rows[0] == RECORD_HEADER
    assert [row[2] for row in rows[1:]] == [f"situation {n}" for n in range(5)]
    nudges = [nudge_row(kind=k) for k in ("walk", "call", "compassion")]
    assert [row[0] for row in parse(nudges_csv(nudges, LONDON))[1:]] == [
        "walk",
        "call",
        "compassion",
    ]


# ── any text reads back as written ─────────────────────────────────────────────


@pytest.mark.parametrize("text", list(TRICKY.values()), ids=list(TRICKY))
def test_win_text_round_trips(text):
    rows = parse(
        wins_csv([WinRow(utc(2026, 3, 10, 9), text), WinRow(utc(2026, 3, 11), "x")], LONDON)
    )
    assert rows == [
        WIN_HEADER,
        ["2026-03-10T09:00:00+00:00", text],
        ["2026-03-11T00:00:00+00:00", "x"],
    ]


@pytest.mark.parametrize("text", list(TRICKY.values()), ids=list(TRICKY))
def test_record_text_fields_round_trip(text):
    row = record(
        situation=text,
        hot_thought=text + " (hot)",
        evidence_for="for: " + text,
        evidence_against=text + text,
        balanced_thought=text,
    )
    (got,) = as_dicts(parse(thought_records_csv([row, record()], LONDON)))[:1]
    assert got["situation"] == text
    assert got["hot_thought"] == text + " (hot)"
    assert got["evidence_for"] == "for: " + text
    assert got["evidence_against"] == text + text
    assert got["balanced_thought"] == text


@pytest.mark.parametrize("text", list(TRICKY.values()), ids=list(TRICKY))
def test_nudge_note_and_follow_up_round_trip(text):
    rows = as_dicts(parse(nudges_csv([nudge_row(note=text, follow_up=text), nudge_row()], LONDON)))
    assert len(rows) == 2
    assert rows[0]["note"] == text
    assert rows[0]["follow_up"] == text
    assert rows[1]["note"] == "Went round the park"


def test_all_tricky_texts_in_one_file():
    wins = [WinRow(utc(2026, 3, 10, 9, n), text) for n, text in enumerate(TRICKY.values())]
    rows = parse(wins_csv(wins, LONDON))
    assert [row[1] for row in rows[1:]] == list(TRICKY.values())


def test_emotion_names_in_other_scripts():
    emotions = [
        {"name": "тревога", "before": 70, "after": 30},
        {"name": "עצב", "before": 50, "after": 50},
        {"name": "😤", "before": 90, "after": 20},
    ]
    (got,) = as_dicts(parse(thought_records_csv([record(emotions=json.dumps(emotions))], LONDON)))
    assert got["emotions_before"] == "тревога 70; עצב 50; 😤 90"
    assert got["emotions_after"] == "тревога 30; עצב 50; 😤 20"


# ── thought records ────────────────────────────────────────────────────────────


def test_a_whole_thought_record_row():
    rows = parse(thought_records_csv([record()], LONDON))
    assert rows == [
        RECORD_HEADER,
        [
            "2026-03-10T09:00:00+00:00",
            "2026-03-10T09:12:30+00:00",
            "Boss criticised my report",
            "frustrated 80; ashamed 60",
            "frustrated 40; ashamed 35",
            "I'm useless at this job",
            "The report had two mistakes",
            "Last month's report was praised",
            "Labelling; All-or-nothing",
            "I made two mistakes in one report; I can fix them",
            "70",
        ],
    ]


def test_emotions_not_re_rated_are_left_out_of_after():
    emotions = [
        {"name": "sad", "before": 80, "after": None},
        {"name": "hurt", "before": 40},
        {"name": "angry", "before": 60, "after": 10},
    ]
    (got,) = as_dicts(parse(thought_records_csv([record(emotions=json.dumps(emotions))], LONDON)))
    assert got["emotions_before"] == "sad 80; hurt 40; angry 60"
    assert got["emotions_after"] == "angry 10"


def test_no_emotions_are_empty_cells():
    (got,) = as_dicts(parse(thought_records_csv([record(emotions="[]")], LONDON)))
    assert got["emotions_before"] == "" and got["emotions_after"] == ""


def test_every_trap_key_is_rendered_as_its_name():
    names = trap_names()
    assert len(names) == 12
    (got,) = as_dicts(parse(thought_records_csv([record(traps=json.dumps(list(names)))], LONDON)))
    assert got["thinking_traps"].split("; ") == list(names.values())
    assert "mind_reading" not in got["thinking_traps"]
    assert "Mind reading" in got["thinking_traps"]


def test_traps_none_and_unknown():
    rows = [record(traps="[]"), record(traps=json.dumps(["mental_filter", "retired_trap"]))]
    got = as_dicts(parse(thought_records_csv(rows, LONDON)))
    assert got[0]["thinking_traps"] == ""
    assert got[1]["thinking_traps"] == "Mental filter; retired_trap"


@pytest.mark.parametrize(("belief", "cell"), [(None, ""), (0, "0"), (55, "55"), (100, "100")])
def test_belief(belief, cell):
    (got,) = as_dicts(parse(thought_records_csv([record(belief=belief)], LONDON)))
    assert got["belief"] == cell


# ── times in the client's zone ─────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("zone", "instant", "shown"),
    [
        (LONDON, utc(2026, 3, 10, 9, 0), "2026-03-10T09:00:00+00:00"),
        (LONDON, utc(2026, 3, 29, 0, 59, 59), "2026-03-29T00:59:59+00:00"),
        (LONDON, utc(2026, 3, 29, 1, 0), "2026-03-29T02:00:00+01:00"),
        (LONDON, utc(2026, 3, 30, 9, 0), "2026-03-30T10:00:00+01:00"),
        (LONDON, utc(2026, 10, 25, 0, 30), "2026-10-25T01:30:00+01:00"),
        (LONDON, utc(2026, 10, 25, 1, 30), "2026-10-25T01:30:00+00:00"),
        (NEW_YORK, utc(2026, 3, 1, 14, 0), "2026-03-01T09:00:00-05:00"),
        (NEW_YORK, utc(2026, 3, 10, 13, 0), "2026-03-10T09:00:00-04:00"),
        (NEW_YORK, utc(2026, 3, 10, 3, 30), "2026-03-09T23:30:00-04:00"),
        ("Asia/Kolkata", utc(2026, 3, 10, 9, 0), "2026-03-10T14:30:00+05:30"),
        ("UTC", utc(2026, 3, 10, 9, 0), "2026-03-10T09:00:00+00:00"),
    ],
)
def test_times_carry_the_offset_of_the_clients_zone(zone, instant, shown):
    (win_row,) = parse(wins_csv([WinRow(instant, "w")], zone))[1:]
    assert win_row[0] == shown
    assert datetime.fromisoformat(shown) == instant
    (nudge,) = as_dicts(
        parse(nudges_csv([nudge_row(due_at=instant, sent_at=instant, answered_at=instant)], zone))
    )
    assert nudge["scheduled_at"] == nudge["sent_at"] == nudge["answered_at"] == shown
    (rec,) = as_dicts(parse(thought_records_csv([record(started_at=instant)], zone)))
    assert rec["started_at"] == shown


def test_record_times_across_the_spring_change():
    row = record(started_at=utc(2026, 3, 28, 21, 0), completed_at=utc(2026, 3, 30, 21, 0))
    (got,) = as_dicts(parse(thought_records_csv([row], LONDON)))
    assert got["started_at"] == "2026-03-28T21:00:00+00:00"
    assert got["completed_at"] == "2026-03-30T22:00:00+01:00"


def test_times_are_whole_seconds():
    instant = datetime(2026, 3, 10, 9, 0, 7, 654321, tzinfo=UTC)
    (win_row,) = parse(wins_csv([WinRow(instant, "w")], LONDON))[1:]
    assert win_row[0] == "2026-03-10T09:00:07+00:00"


# ── nudges ─────────────────────────────────────────────────────────────────────


def test_a_whole_nudge_row():
    rows = parse(nudges_csv([nudge_row()], NEW_YORK))
    assert rows == [
        NUDGE_HEADER,
        [
            "walk",
            "done",
            "2026-03-10T14:00:00-04:00",
            "2026-03-10T14:00:05-04:00",
            "2026-03-10T15:02:00-04:00",
            "1",
            "better",
            "Went round the park",
        ],
    ]


def test_missing_times_and_texts_are_empty_cells():
    rows = [
        nudge_row(
            status="queued", sent_at=None, answered_at=None, snoozes=0, follow_up=None, note=None
        ),
        nudge_row(status="sent", answered_at=None, follow_up=None, note=None),
        nudge_row(status="missed", sent_at=None, answered_at=None, note=None),
    ]
    got = as_dicts(parse(nudges_csv(rows, LONDON)))
    assert got[0] == {
        "kind": "walk",
        "status": "queued",
        "scheduled_at": "2026-03-10T18:00:00+00:00",
        "sent_at": "",
        "answered_at": "",
        "snoozes": "0",
        "follow_up": "",
        "note": "",
    }
    assert (got[1]["status"], got[1]["sent_at"], got[1]["answered_at"]) == (
        "sent",
        "2026-03-10T18:00:05+00:00",
        "",
    )
    assert (got[2]["status"], got[2]["sent_at"], got[2]["follow_up"]) == ("missed", "", "better")


@pytest.mark.parametrize("status", ["queued", "sent", "done", "skipped", "missed", "failed"])
def test_every_status_is_written_as_is(status):
    (got,) = as_dicts(parse(nudges_csv([nudge_row(status=status)], LONDON)))
    assert got["status"] == status


def test_snoozes_are_counted():
    got = as_dicts(parse(nudges_csv([nudge_row(snoozes=n) for n in (0, 1, 3, 12)], LONDON)))
    assert [row["snoozes"] for row in got] == ["0", "1", "3", "12"]
