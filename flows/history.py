"""Paging through finished records: the arithmetic and the words, without the storage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flows.content import load
from flows.parsing import parse_id
from flows.replies import Button, Reply, shorten

PAGE_SIZE = 5
PREFIX = "H"


@dataclass(frozen=True)
class Entry:
    record_id: int
    completed_local: datetime
    hot_thought: str


def pages(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


def clamp_page(page: int, total: int) -> int:
    return min(max(page, 0), pages(total) - 1)


def listing(entries: list[Entry], page: int, total: int, *, replace: bool = False) -> Reply:
    """One page of records as buttons, newest first, with newer/older arrows."""
    text = load("messages")
    if total == 0:
        return Reply(str(text["history_empty"]))
    buttons: list[tuple[Button, ...]] = [
        (
            Button(
                f"{e.completed_local:%d %b} · {shorten(e.hot_thought, 40)}",
                f"{PREFIX}:r:{e.record_id}",
            ),
        )
        for e in entries
    ]
    arrows = []
    if page > 0:
        arrows.append(Button(str(text["history_newer"]), f"{PREFIX}:p:{page - 1}"))
    if page + 1 < pages(total):
        arrows.append(Button(str(text["history_older"]), f"{PREFIX}:p:{page + 1}"))
    if arrows:
        buttons.append(tuple(arrows))
    header = str(text["history_header"]).format(page=page + 1, pages=pages(total))
    return Reply(header, tuple(buttons), replace=replace)


def parse_choice(data: str) -> tuple[str, int] | None:
    """("r", record id) or ("p", page) from button data; None for anything malformed."""
    parts = data.split(":")
    if len(parts) != 3 or parts[0] != PREFIX or parts[1] not in ("r", "p"):
        return None
    if parts[1] == "p" and parts[2] == "0":
        return "p", 0
    value = parse_id(parts[2])
    return None if value is None else (parts[1], value)
