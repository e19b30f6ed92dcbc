"""Homework reminders without storage or transport: what /remind means, what a nudge says,
which exercise comes next, what a typed reply answers (PRODUCT.md, Nudges)."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from datetime import datetime, time

import pytest

from flows.content import load
from flows.homework import (
    KINDS,
    RemindError,
    ReminderView,
    RemindRequest,
    after_done,
    classify,
    describe,
    follow_up_values,
    library,
    parse_remind,
    parse_when,
    pick_key,
    reminders_list,
    render_nudge,
    setup_offer,
    which_buttons,
)
from flows.replies import Reply
from flows.schedule import EVERY_DAY, WEEKDAYS, WEEKENDS, Quiet

MON, TUE, WED, THU, FRI, SAT, SUN = (1 << i for i in range(7))


def labels(reply: Reply) -> list[str]:
    return [button.label for row in reply.buttons for button in row]


def data(reply: Reply) -> list[str]:
    return [button.data for row in reply.buttons for button in row]


# ── /remind ────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("compassion 08:30", RemindRequest("compassion", EVERY_DAY, time(8, 30))),
        ("walk mon,wed,fri 17:30", RemindRequest("walk", MON | WED | FRI, time(17, 30))),
        ("call sun 18:00", RemindRequest("call", SUN, time(18, 0))),
        ("call sun 18:00 Mum", RemindRequest("call", SUN, time(18, 0), "Mum")),
        ("call sun 18:00 my big sister", RemindRequest("call", SUN, time(18, 0), "my big sister")),
        ("walk weekdays 12:15", RemindRequest("walk", WEEKDAYS, time(12, 15))),
        ("walk weekends 10:00", RemindRequest("walk", WEEKENDS, time(10, 0))),
        ("compassion daily 21:00", RemindRequest("compassion", EVERY_DAY, time(21, 0))),
        ("self-compassion 08:30", RemindRequest("compassion", EVERY_DAY, time(8, 30))),
        ("Self-Compassion 08:30", RemindRequest("compassion", EVERY_DAY, time(8, 30))),
        ("walks sat 10:00", RemindRequest("walk", SAT, time(10, 0))),
        ("calls sunday 18:00 Dad", RemindRequest("call", SUN, time(18, 0), "Dad")),
        ("compassion 7pm", RemindRequest("compassion", EVERY_DAY, time(19, 0))),
        ("walk 7 pm", RemindRequest("walk", EVERY_DAY, time(19, 0))),
        ("walk mon-fri 7:15 am", RemindRequest("walk", WEEKDAYS, time(7, 15))),
        ("call sun 6 pm Mum", RemindRequest("call", SUN, time(18, 0), "Mum")),
        ("walk Mon, Wed, Fri 17:30", RemindRequest("walk", MON | WED | FRI, time(17, 30))),
        ("compassion every day 08:30", RemindRequest("compassion", EVERY_DAY, time(8, 30))),
        ("  walk   tue   08.15  ", RemindRequest("walk", TUE, time(8, 15))),
    ],
)
def test_parse_remind_understands(args, expected):
    assert parse_remind(args) == expected


def test_only_a_call_names_a_person():
    request = parse_remind("walk sat 10:00 with the dog")
    assert isinstance(request, RemindRequest)
    assert request.person is None


def _example(message: str) -> str:
    """The `/remind …` example a refusal offers, without the command."""
    found = re.search(r"/remind (\S+(?: \S+)*?)(?:$|[.\"”])", message)
    assert found, f"no /remind example in {message!r}"
    return found.group(1)


@pytest.mark.parametrize(
    ("args", "quoted"),
    [
        ("walk 25:00", "25:00"),
        ("walk 12:60", "12:60"),
        ("walk 13pm", "13pm"),
        ("compassion 8", "8"),
        ("swim 10:00", None),
        ("walk funday 10:00", "funday"),
        ("walk mon,wed,fri", None),
        ("compassion", None),
        ("call sun", None),
        ("walk funday", "funday"),
    ],
)
def test_parse_remind_refuses_with_one_line_and_a_working_example(args, quoted):
    result = parse_remind(args)
    assert isinstance(result, RemindError)
    message = result.message
    assert message.strip()
    assert "\n" not in message
    if quoted is not None:
        assert f'"{quoted}"' in message  # says what it could not use
    example = _example(message)
    assert isinstance(parse_remind(example), RemindRequest), (message, example)


def test_refusals_say_what_is_wrong():
    assert "time" in parse_remind("walk 25:00").message.lower()
    assert "compassion, walk and call" in parse_remind("swim 10:00").message
    assert "day" in parse_remind("walk funday 10:00").message.lower()
    missing_time = parse_remind("walk mon,wed,fri").message
    assert missing_time.startswith("What time?")
    assert "/remind walk mon,wed,fri 17:30" in missing_time


@pytest.mark.parametrize("args", ["", "   ", "\n\t"])
def test_parse_remind_without_arguments_is_none(args):
    assert parse_remind(args) is None


def test_parse_when_after_the_kind_was_chosen_from_a_menu():
    assert parse_when("walk", ["mon,wed,fri", "17:30"]) == RemindRequest(
        "walk", MON | WED | FRI, time(17, 30)
    )
    morning = RemindRequest("compassion", EVERY_DAY, time(8, 30))
    assert parse_when("compassion", ["08:30"]) == morning
    assert isinstance(parse_when("walk", []), RemindError)


@pytest.mark.parametrize(
    "args",
    ["walk 17:30 mon,wed,fri", "compassion 08:30 weekdays", "call 18:00 sun Mum"],
)
def test_days_after_the_time_are_not_silently_turned_into_every_day(args):
    result = parse_remind(args)
    # either the days are honoured, or the person is told the right order
    assert isinstance(result, RemindError) or result.days != EVERY_DAY


def test_describe_a_reminder():
    assert describe("walk", MON | WED | FRI, "17:30", None) == "🚶 Walk — Mon, Wed, Fri at 17:30"
    assert describe("call", SUN, "18:00", "Mum") == "📞 Call Mum — Sun at 18:00"
    assert describe("compassion", EVERY_DAY, "08:30", None).endswith("every day at 08:30")


# ── which exercise comes next ──────────────────────────────────────────────────


def _run(kind: str, seed: int, picks: int, used: dict[str, int] | None = None) -> list[str]:
    """Pick, record the pick, pick again — as the dispatcher does with stored counts."""
    counts = Counter(used or {})
    chosen = []
    for _ in range(picks):
        key = pick_key(kind, dict(counts), seed)
        chosen.append(key)
        counts[key] += 1
    return chosen


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [1, 42, 123456789])
def test_no_repeat_until_the_library_is_used_up_then_it_starts_again(kind, seed):
    keys = [item["key"] for item in library(kind)]
    size = len(keys)
    picks = _run(kind, seed, 3 * size)
    for cycle in range(3):
        block = picks[cycle * size : (cycle + 1) * size]
        assert sorted(block) == sorted(keys), f"cycle {cycle} repeats or misses an item"
    # never the same exercise twice in a row, not even where one cycle meets the next
    assert all(a != b for a, b in itertools.pairwise(picks))


@pytest.mark.parametrize("kind", KINDS)
def test_the_order_is_stable_for_a_person_and_differs_between_people(kind):
    size = len(library(kind))
    assert _run(kind, 7, size) == _run(kind, 7, size)
    orders = {tuple(_run(kind, seed, size)) for seed in range(1, 11)}
    assert len(orders) == 10
    assert _run(kind, 1, size) != _run(kind, 2, size)
    # not just rotations of one order: the first picks differ too
    assert len({order[0] for order in orders}) > 3


def test_a_key_no_longer_in_the_library_is_harmless():
    keys = {item["key"] for item in library("walk")}
    # a retired key with a low count does not win, nor break anything
    used = {key: 1 for key in keys} | {"retired_walk": 0, "another_gone": 7}
    assert pick_key("walk", used, 5) in keys
    picks = _run("walk", 5, len(keys), used={"retired_walk": 3})
    assert sorted(picks) == sorted(keys)
    # and a nudge stored with a retired key still says something
    reply = render_nudge("walk", "retired_walk", None, 1, 60)
    assert "Something to take with you:" in reply.text
    assert len(reply.text.split("Something to take with you:")[1].strip()) > 20


def test_an_item_added_mid_cycle_comes_up_before_anything_repeats():
    keys = [item["key"] for item in library("compassion")]
    newest = keys[-1]
    used = {key: 1 for key in keys if key != newest}  # the rest were all seen once
    assert pick_key("compassion", used, 99) == newest


# ── the libraries ──────────────────────────────────────────────────────────────

FIELDS = {"compassion": ("title", "text"), "walk": ("focus",), "call": ("starter",)}
MINIMUM = {"compassion": 30, "walk": 20, "call": 20}


@pytest.mark.parametrize("kind", KINDS)
def test_library_size_and_unique_keys(kind):
    items = library(kind)
    assert len(items) >= MINIMUM[kind]
    keys = [item["key"] for item in items]
    assert len(set(keys)) == len(keys), [k for k, n in Counter(keys).items() if n > 1]
    assert all(re.fullmatch(r"[a-z0-9]+(?:_[a-z0-9]+)*", key) for key in keys)


def test_the_library_file_has_exactly_the_three_kinds():
    assert set(load("nudge_library")) == set(KINDS)


@pytest.mark.parametrize(
    ("kind", "item"),
    [(kind, item) for kind in KINDS for item in library(kind)],
    ids=lambda value: value if isinstance(value, str) else value["key"],
)
def test_every_item_renders_with_its_buttons(kind, item):
    for field in FIELDS[kind]:
        assert isinstance(item[field], str) and item[field].strip()
        assert len(item[field]) < 300
    reply = render_nudge(kind, item["key"], "Mum" if kind == "call" else None, 417, 60)
    for field in FIELDS[kind]:
        assert item[field] in reply.text
    assert "{" not in reply.text and "}" not in reply.text
    if kind == "call":
        assert "call Mum" in reply.text
    names = labels(reply)
    assert len(names) == 3
    assert any("Done" in name for name in names)
    assert any("Snooze" in name and "60" in name for name in names)
    assert any("Not today" in name for name in names)
    assert data(reply) == ["N:417:d", "N:417:z", "N:417:s"]


def test_a_call_without_a_person_is_to_your_kids():
    reply = render_nudge("call", library("call")[0]["key"], None, 1, 60)
    assert "Time to call your kids." in reply.text
    reply = render_nudge("call", library("call")[0]["key"], "Grandad Joe", 1, 60)
    assert "Time to call Grandad Joe." in reply.text


def test_the_snooze_button_names_its_length():
    reply = render_nudge("walk", library("walk")[0]["key"], None, 9, 30)
    assert any("Snooze 30" in name for name in labels(reply))


def test_a_compassion_nudge_invites_a_journal_reply():
    item = library("compassion")[0]
    reply = render_nudge("compassion", item["key"], None, 1, 60)
    assert reply.text.startswith("🌱")
    assert item["title"] in reply.text.splitlines()[0]
    assert "journal" in reply.text


# ── typed replies ──────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "typed",
    ["done", "did it", "✅", "finished", "called them", "DONE", "Done!", " done. ", "Did it!"],
)
def test_classify_done(typed):
    assert classify(typed) == "done"


@pytest.mark.parametrize("typed", ["later", "snooze", "Later", "SNOOZE", "remind me later"])
def test_classify_later(typed):
    assert classify(typed) == "later"


@pytest.mark.parametrize("typed", ["skip", "not today", "Not today.", "NOT   TODAY", "skip it"])
def test_classify_skip(typed):
    assert classify(typed) == "skip"


@pytest.mark.parametrize(
    "typed",
    [
        "I was kind to myself today",
        "I'm done with feeling like this",
        "what should I do?",
        "the walk was lovely",
        "I finished work late and felt rubbish",
        "",
        "maybe later today I will try",
    ],
)
def test_classify_leaves_ordinary_sentences_alone(typed):
    assert classify(typed) is None


# ── after done, which one, /reminders, setup ──────────────────────────────────


def test_after_a_walk_how_do_you_feel_now():
    reply = after_done("walk", 12)
    assert "How do you feel now?" in reply.text
    assert [label.split()[-1] for label in labels(reply)] == ["Better", "Same", "Worse"]
    assert data(reply) == ["F:12:better", "F:12:same", "F:12:worse"]
    assert follow_up_values("walk") == {"better", "same", "worse"}


def test_after_a_call_how_did_it_go():
    reply = after_done("call", 5)
    assert "How did it go?" in reply.text
    assert len(labels(reply)) == 3
    assert all(d.startswith("F:5:") for d in data(reply))
    assert {d.rsplit(":", 1)[1] for d in data(reply)} == follow_up_values("call")


def test_after_compassion_no_follow_up():
    reply = after_done("compassion", 3)
    assert reply.text
    assert reply.buttons == ()
    assert follow_up_values("compassion") == set()


@pytest.mark.parametrize(("answer", "code"), [("done", "d"), ("later", "z"), ("skip", "s")])
def test_which_buttons_one_per_open_nudge(answer, code):
    reply = which_buttons([(31, "walk"), (32, "call")], answer)
    assert reply.text == "Which one did you mean?"
    assert data(reply) == [f"N:31:{code}", f"N:32:{code}"]
    assert [label.split()[-1] for label in labels(reply)] == ["Walk", "Call"]


def test_reminders_list_empty():
    reply = reminders_list([], None, None, 7)
    assert "no reminders" in reply.text
    assert "/remind" in reply.text
    assert reply.buttons == ()


def _views() -> list[ReminderView]:
    return [
        ReminderView("compassion", EVERY_DAY, "08:30", None, True, datetime(2026, 3, 10, 8, 30)),
        ReminderView("walk", MON | WED | FRI, "17:30", None, False, None),
        ReminderView("call", SUN, "18:00", "Mum", True, datetime(2026, 3, 15, 18, 0)),
    ]


def test_reminders_list_shows_each_reminder_and_its_buttons():
    reply = reminders_list(_views(), None, None, 7)
    lines = reply.text.splitlines()
    assert lines[0] == "Your reminders:"
    assert lines[1] == "🌱 Self-compassion — every day at 08:30 · next Tue 10 Mar 08:30"
    assert lines[2] == "🚶 Walk — Mon, Wed, Fri at 17:30 (paused)"
    assert lines[3] == "📞 Call Mum — Sun at 18:00 · next Sun 15 Mar 18:00"
    assert len(lines) == 4  # no quiet-hours line
    assert "next" not in lines[2]
    assert data(reply) == [
        "R:compassion:p",
        "R:compassion:c",
        "R:compassion:x",
        "R:walk:r",  # paused: offers resume, not pause
        "R:walk:c",
        "R:walk:x",
        "R:call:p",
        "R:call:c",
        "R:call:x",
        "R:all:p",
    ]
    assert "Resume Walk" in labels(reply)[3]
    assert "Pause all 7 days" in labels(reply)[-1]


def test_reminders_list_all_paused():
    reply = reminders_list(_views()[:1], datetime(2026, 3, 17, 9, 0), None, 7)
    assert "⏸ All reminders are paused until Tue 17 Mar 09:00." in reply.text.splitlines()
    assert data(reply)[-1] == "R:all:r"
    assert "R:all:p" not in data(reply)


def test_reminders_list_quiet_hours_line():
    reply = reminders_list(_views()[:1], None, Quiet(time(22, 0), time(7, 30)), 3)
    assert reply.text.splitlines()[-1] == "🌙 Quiet hours: 22:00–07:30"
    assert "Pause all 3 days" in labels(reply)[-1]


def test_reminders_list_active_without_a_next_time_has_no_dangling_marker():
    view = ReminderView("walk", WEEKENDS, "10:00", None, True, None)
    line = reminders_list([view], None, None, 7).text.splitlines()[1]
    assert line == "🚶 Walk — weekends at 10:00"


@pytest.mark.parametrize(
    ("kind", "days", "at", "words"),
    [
        ("compassion", EVERY_DAY, "08:30", "every day at 08:30"),
        ("walk", MON | WED | FRI, "17:30", "Mon, Wed, Fri at 17:30"),
        ("call", SUN, "18:00", "Sun at 18:00"),
    ],
)
def test_setup_offer(kind, days, at, words):
    reply = setup_offer(kind, days, at)
    assert words in reply.text
    assert reply.text.endswith("?")
    assert data(reply) == [f"S:{kind}:y", f"S:{kind}:c", f"S:{kind}:s"]
    assert len(reply.buttons) == 1  # one row
    assert labels(reply)[-1] == "Skip"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("walk mon-fri 7:15 pm", RemindRequest("walk", WEEKDAYS, time(19, 15))),
        ("call 18:00", RemindRequest("call", SUN, time(18, 0))),
        ("call 18:00 sun Mum", RemindRequest("call", SUN, time(18, 0), "Mum")),
        ("walk weekdays,sat 9:00", RemindRequest("walk", WEEKDAYS | SAT, time(9, 0))),
        ("walk at 17:30", RemindRequest("walk", EVERY_DAY, time(17, 30))),
    ],
)
def test_time_words_and_usual_days(args, expected):
    assert parse_remind(args, {"call": SUN}) == expected


def test_unknown_words_after_the_time_are_questioned_not_guessed():
    assert isinstance(parse_remind("walk 17:30 banana"), RemindError)
