"""Paging through finished records: how many pages, which arrows, what each button carries."""

from __future__ import annotations

from datetime import datetime

import pytest

from flows.history import PAGE_SIZE, Entry, clamp_page, listing, pages, parse_choice

NEWER = "◀ Newer"
OLDER = "Older ▶"


def entries(count: int, first_id: int = 1) -> list[Entry]:
    return [
        Entry(
            record_id=first_id + i,
            completed_local=datetime(2026, 3, 10 - i, 21, 15),
            hot_thought=f"Thought number {first_id + i}",
        )
        for i in range(count)
    ]


def labels(reply) -> list[list[str]]:
    return [[b.label for b in row] for row in reply.buttons]


def data(reply) -> list[list[str]]:
    return [[b.data for b in row] for row in reply.buttons]


def test_page_size_is_five():
    assert PAGE_SIZE == 5


@pytest.mark.parametrize(
    ("total", "count"),
    [(0, 1), (1, 1), (4, 1), (5, 1), (6, 2), (10, 2), (11, 3), (100, 20), (101, 21)],
)
def test_pages(total, count):
    assert pages(total) == count


@pytest.mark.parametrize(
    ("page", "total", "clamped"),
    [
        (0, 0, 0),
        (3, 0, 0),
        (-1, 12, 0),
        (0, 12, 0),
        (2, 12, 2),
        (3, 12, 2),
        (99, 12, 2),
        (1, 5, 0),
        (1, 6, 1),
    ],
)
def test_clamp_page(page, total, clamped):
    assert clamp_page(page, total) == clamped


def test_no_records_says_so_without_buttons():
    reply = listing([], 0, 0)
    assert "haven't finished a thought record yet" in reply.text
    assert "/thought" in reply.text
    assert reply.buttons == ()


def test_a_single_page_has_no_arrows():
    reply = listing(entries(3), 0, 3)
    assert "page 1 of 1" in reply.text
    assert data(reply) == [["H:r:1"], ["H:r:2"], ["H:r:3"]]
    assert labels(reply)[0] == ["10 Mar · Thought number 1"]
    assert labels(reply)[2] == ["08 Mar · Thought number 3"]
    assert not reply.replace


def test_first_of_several_pages_offers_older_only():
    reply = listing(entries(5), 0, 12)
    assert "newest first, page 1 of 3" in reply.text
    assert len(reply.buttons) == 6
    assert labels(reply)[-1] == [OLDER]
    assert data(reply)[-1] == ["H:p:1"]


def test_middle_page_offers_both_arrows():
    reply = listing(entries(5, first_id=6), 1, 12)
    assert "page 2 of 3" in reply.text
    assert [row[0] for row in data(reply)[:5]] == [f"H:r:{i}" for i in range(6, 11)]
    assert labels(reply)[-1] == [NEWER, OLDER]
    assert data(reply)[-1] == ["H:p:0", "H:p:2"]


def test_last_page_offers_newer_only():
    reply = listing(entries(2, first_id=11), 2, 12, replace=True)
    assert "page 3 of 3" in reply.text
    assert len(reply.buttons) == 3
    assert labels(reply)[-1] == [NEWER]
    assert data(reply)[-1] == ["H:p:1"]
    assert reply.replace  # paging edits the list in place


def test_long_hot_thoughts_are_shortened_on_their_button():
    entry = Entry(7, datetime(2026, 1, 2, 8, 0), "I never get anything done. " * 10)
    (row,) = listing([entry], 0, 1).buttons
    (button,) = row
    assert button.label.startswith("02 Jan · I never get anything done.")
    assert button.label.endswith("…")
    assert len(button.label) <= len("02 Jan · ") + 40
    assert button.data == "H:r:7"


def test_button_data_fits_telegram_and_reads_back():
    reply = listing(entries(5, first_id=2**31 - 10), 10**6, 10**8)
    for row in reply.buttons:
        for button in row:
            assert len(button.data.encode()) <= 64
            assert parse_choice(button.data) is not None
    assert parse_choice("H:r:2147483647") == ("r", 2**31 - 1)  # the largest database id
    assert parse_choice("H:r:2147483648") is None  # larger ids can only be forged


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [("H:r:12", ("r", 12)), ("H:p:0", ("p", 0)), ("H:p:3", ("p", 3)), ("H:r:007", ("r", 7))],
)
def test_parse_choice(raw, parsed):
    assert parse_choice(raw) == parsed


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "H",
        "H:r",
        "H:r:",
        "H:x:1",
        "h:r:1",
        "T:r:1",
        "H:r:-1",
        "H:r:1.5",
        "H:r: 1",
        "H:r:1:2",
        "H:p:abc",
        "H:r:" + "9" * 13,
        "T:d1:0.0:ex",
    ],
)
def test_parse_choice_refuses_malformed_data(raw):
    assert parse_choice(raw) is None


@pytest.mark.parametrize("raw", ["H:p:²", "H:r:1²", "H:r:①"])
def test_parse_choice_refuses_non_decimal_digits(raw):
    assert parse_choice(raw) is None
