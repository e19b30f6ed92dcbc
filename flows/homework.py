"""Homework reminders and nudges, without storage or transport: what /remind means, what a
nudge says, which exercise comes next, what a typed "done" answers."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Literal

from flows.content import load
from flows.content import text as content_text
from flows.parsing import normalise
from flows.replies import Button, Reply, rows
from flows.schedule import Quiet, describe_days, parse_days, parse_time

Kind = Literal["compassion", "walk", "call", "summary"]
KINDS: tuple[Kind, ...] = ("compassion", "walk", "call")  # homework the client does
SUMMARY: Kind = "summary"  # the weekly summary: a reminder kind, not homework
_ALIASES: dict[str, Kind] = {
    "compassion": "compassion",
    "self-compassion": "compassion",
    "selfcompassion": "compassion",
    "sc": "compassion",
    "walk": "walk",
    "walks": "walk",
    "call": "call",
    "calls": "call",
    "summary": "summary",
    "weekly": "summary",
    "weekly-summary": "summary",
}
Answer = Literal["done", "later", "skip"]


def _words() -> dict[str, Any]:
    return load("homework")


def text(path: str, **values: object) -> str:
    """A message from homework.yaml by dotted path, e.g. text("replies.snoozed", time=…)."""
    return content_text("homework", path, **values)


def kind_name(kind: str) -> str:
    return str(_words()["kinds"][kind]["name"])


def kind_icon(kind: str) -> str:
    return str(_words()["kinds"][kind]["icon"])


# ── /remind ────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class RemindRequest:
    kind: str
    days: int
    at: time
    person: str | None = None


@dataclass(frozen=True)
class RemindError:
    message: str


def parse_kind(word: str) -> Kind | None:
    return _ALIASES.get(normalise(word))


_FILLER = {"at", "on"}


def parse_when(
    kind: str, words: list[str], default_days: int = 0b1111111
) -> RemindRequest | RemindError:
    """`[DAYS] HH:MM [DAYS] [person…]` after the kind; days default to `default_days`."""
    words = [w for w in words if w.lower() not in _FILLER]
    at_index, at = _find_time(words)
    example = "mon,wed,fri 17:30" if kind == "walk" else "08:30"
    if at is None:
        guess = next((w for w in words if any(ch.isdecimal() for ch in w)), None)
        if guess is not None:
            return RemindError(text("remind.bad_time", text=guess[:20], kind=kind))
        if words and parse_days(" ".join(words)) is None:
            return RemindError(text("remind.bad_days", text=" ".join(words)[:30], kind=kind))
        return RemindError(text("remind.no_time", kind=kind, example=example))
    before = words[:at_index]
    after = words[at_index + (2 if _is_split_time(words, at_index) else 1) :]
    if not before:  # "17:30 mon,wed,fri": days may follow the time too
        taken = _leading_days(after)
        before, after = after[:taken], after[taken:]
    days = parse_days(" ".join(before)) if before else default_days
    if days is None:
        return RemindError(text("remind.bad_days", text=" ".join(before)[:30], kind=kind))
    if kind != "call":
        if after and not before:  # maybe mistyped days after the time: say so, don't guess
            return RemindError(text("remind.bad_days", text=" ".join(after)[:30], kind=kind))
        after = []  # "walk sat 10:00 with the dog": only a call names someone
    person = " ".join(after).strip()[:60] or None
    return RemindRequest(kind, days, at, person)


def _leading_days(words: list[str]) -> int:
    """How many of the first words read as days."""
    taken = 0
    while taken < len(words) and parse_days(" ".join(words[: taken + 1])) is not None:
        taken += 1
    return taken


def parse_remind(
    args: str, default_days: dict[str, int] | None = None
) -> RemindRequest | RemindError | None:
    """`/remind walk mon,wed,fri 17:30` → request; None when there are no arguments.
    Without days, each kind gets its usual ones (calls: weekly)."""
    words = args.split()
    if not words:
        return None
    kind = parse_kind(words[0])
    if kind is None:
        return RemindError(text("remind.bad_kind"))
    return parse_when(kind, words[1:], (default_days or {}).get(kind, 0b1111111))


def _find_time(words: list[str]) -> tuple[int, time | None]:
    for i, word in enumerate(words):
        if _is_split_time(words, i):  # "7:15 pm": the second word decides
            parsed = parse_time(word + words[i + 1])
        else:
            parsed = parse_time(word)
        if parsed is not None:
            return i, parsed
    return -1, None


def _is_split_time(words: list[str], i: int) -> bool:
    return i + 1 < len(words) and words[i + 1].lower() in ("am", "pm")


def describe(kind: str, days: int, at: str, person: str | None) -> str:
    name = f"Call {person}" if kind == "call" and person else kind_name(kind)
    return f"{kind_icon(kind)} {name} — {describe_days(days)} at {at}"


# ── what a nudge says ──────────────────────────────────────────────────────────


def library(kind: str) -> list[dict[str, str]]:
    return list(load("nudge_library")[kind])


def pick_key(kind: str, used: dict[str, int], seed: int) -> str:
    """The next exercise for this person: none repeats until every one has been used once.
    The order is shuffled per person (stable for a seed), so people don't all get the same."""
    if kind == SUMMARY:
        return "weekly"
    keys = [item["key"] for item in library(kind)]
    random.Random(f"{kind}:{seed}").shuffle(keys)
    fewest = min(used.get(key, 0) for key in keys)
    return next(key for key in keys if used.get(key, 0) == fewest)


def _item(kind: str, key: str) -> dict[str, str]:
    items = {item["key"]: item for item in library(kind)}
    return items.get(key) or library(kind)[0]  # a key removed from the file: still say something


def nudge_buttons(nudge_id: int, snooze_minutes: int) -> tuple[tuple[Button, ...], ...]:
    return (
        (
            Button(text("buttons.done"), f"N:{nudge_id}:d"),
            Button(text("buttons.snooze", minutes=snooze_minutes), f"N:{nudge_id}:z"),
        ),
        (Button(text("buttons.skip"), f"N:{nudge_id}:s"),),
    )


def render_nudge(
    kind: str, key: str, person: str | None, nudge_id: int, snooze_minutes: int
) -> Reply:
    item = _item(kind, key)
    body = text(f"nudge.{kind}", person=person or "your kids", **item)
    return Reply(body, nudge_buttons(nudge_id, snooze_minutes))


def classify(typed: str) -> Answer | None:
    """What a short typed reply means for an open nudge, if anything."""
    word = normalise(typed).strip(".!?")
    for answer in ("done", "later", "skip"):
        if word in _words()["words"][answer]:
            return answer  # type: ignore[return-value]
    return None


def after_done(kind: str, nudge_id: int) -> Reply:
    message = text(f"replies.done.{kind}")
    choices = _words()["follow_ups"].get(kind)
    if not choices:
        return Reply(message)
    buttons = [Button(label, f"F:{nudge_id}:{value}") for value, label in choices]
    return Reply(message, (tuple(buttons),))


def follow_up_values(kind: str) -> set[str]:
    return {value for value, _ in _words()["follow_ups"].get(kind, [])}


def which_buttons(open_nudges: list[tuple[int, str]], answer: Answer) -> Reply:
    """Two kinds open and a bare "done": ask which, one button per nudge."""
    code = {"done": "d", "later": "z", "skip": "s"}[answer]
    buttons = [Button(_words()["kinds"][k]["button"], f"N:{i}:{code}") for i, k in open_nudges]
    return Reply(text("replies.which"), (tuple(buttons),))


# ── /reminders ─────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class ReminderView:
    kind: str
    days: int
    local_time: str
    person: str | None
    active: bool
    next_local: datetime | None


def reminders_list(
    reminders: list[ReminderView],
    paused_until_local: datetime | None,
    quiet: Quiet | None,
    pause_days: int,
) -> Reply:
    if not reminders:
        return Reply(text("reminders.empty"))
    lines = [text("reminders.header")]
    buttons: list[tuple[Button, ...]] = []
    for r in reminders:
        state = text("reminders.paused") if not r.active else ""
        if r.active and r.next_local is not None:
            state = text("reminders.next", next=f"{r.next_local:%a %d %b %H:%M}")
        lines.append(describe(r.kind, r.days, r.local_time, r.person) + state)
        name = kind_name(r.kind)
        toggle = (
            Button(text("reminders.pause", name=name), f"R:{r.kind}:p")
            if r.active
            else Button(text("reminders.resume", name=name), f"R:{r.kind}:r")
        )
        buttons.append((toggle, Button(text("reminders.change", name=name), f"R:{r.kind}:c")))
        buttons.append((Button(text("reminders.delete", name=name), f"R:{r.kind}:x"),))
    if paused_until_local is not None:
        lines.append(text("reminders.all_paused", until=f"{paused_until_local:%a %d %b %H:%M}"))
        buttons.append((Button(text("reminders.resume_all"), "R:all:r"),))
    else:
        buttons.append((Button(text("reminders.pause_all", days=pause_days), "R:all:p"),))
    if quiet is not None:
        lines.append(text("reminders.quiet", quiet=quiet))
    return Reply("\n".join(lines), tuple(buttons))


def kind_menu(prefix: str) -> Reply:
    """One button per kind, for /remind with nothing after it."""
    buttons = [Button(_words()["kinds"][k]["button"], f"{prefix}:{k}") for k in KINDS]
    return Reply(text("remind.menu"), rows(buttons, 3))


def person_menu(prefix: str) -> Reply:
    people = _words()["remind"]["people"]
    buttons = [Button(p, f"{prefix}:{i}") for i, p in enumerate(people)]
    return Reply(text("remind.ask_person"), rows(buttons, 2))


def person_choice(index: str) -> str | None:
    people = _words()["remind"]["people"]
    return people[int(index)] if index.isdecimal() and int(index) < len(people) else None


def setup_offer(kind: str, days: int, at: str) -> Reply:
    message = text(f"setup.offer.{kind}", days=describe_days(days), time=at)
    buttons = (
        Button(text("setup.accept"), f"S:{kind}:y"),
        Button(text("setup.change"), f"S:{kind}:c"),
        Button(text("setup.skip"), f"S:{kind}:s"),
    )
    return Reply(message, (buttons,))
