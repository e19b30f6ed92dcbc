"""Property tests of the thought record: whatever a person sends, the flow stays sound."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import event as tally
from hypothesis import strategies as st

from flows.events import Choice, Command, Event, NonText, Text
from flows.record import Emotion, RecordAnswers
from flows.replies import Button
from flows.thought_record import (
    PREFIX,
    Outcome,
    ThoughtDraft,
    check,
    handle,
    offer_resume,
    prompt_again,
    start,
)

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

MAX_ANSWER = 4096
KEEP = "Keep my answer"
DONE = "Done ✓"
TRAP_COUNT = 12


# ── what people send ───────────────────────────────────────────────────────────

ODD_CHARACTERS = (
    "\u200b\u200c\u200d\u2060\ufeff"  # zero-width
    "\u202e\u202d\u200f\u200e"  # direction marks and overrides
    "\x00\x07\x1b\x7f\r\n\t \u00a0\u2028\u3000"  # control characters and odd spaces
    "😢🙂👍🏽❤️🇬🇧👨‍👩‍👧"  # emoji, with modifiers and joiners
    "שלום עולם مرحبا بك"  # right-to-left scripts
    "грусть тревога 悲しい"
    "0123456789٣٧²①%,;.:-−–&+"  # decimal digits in other scripts, and non-decimal ones
)
characters = st.one_of(
    st.characters(blacklist_categories=("Cs",)),
    st.sampled_from(ODD_CHARACTERS),
)
short_text = st.text(characters, max_size=40)
long_text = st.builds(
    lambda unit, length, pad: pad + (unit * (length // len(unit) + 1))[:length] + pad,
    st.text(characters, min_size=1, max_size=8).filter(bool),
    st.integers(MAX_ANSWER - 3, MAX_ANSWER + 3),
    st.sampled_from(["", " ", "\n"]),
)
digitish = st.text(st.sampled_from("0123456789٣٧²①"), min_size=1, max_size=3)
numbers = st.one_of(
    digitish,
    st.lists(digitish, min_size=1, max_size=3).map(", ".join),
    st.integers(-1000, 1000).map(str),
    st.integers(-20, 120).map(lambda n: f"{n}%"),
    st.floats(-50, 150, allow_nan=False).map(lambda f: f"{f:.1f}"),
    st.sampled_from(["70 %", " 70 ", "−5", "7,5", "١٠٠", "1e3", "70 80", "0", "100"]),
)
EMOTION_NAMES = ["sad", "Anxious", "грусть", "тревога", "חרדה", "حزن", "悲しい", "self-pity"]
emotion_like = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(EMOTION_NAMES), short_text),
        st.one_of(st.none(), st.integers(-20, 130).map(str), st.sampled_from(["70%", "x"])),
    ),
    min_size=1,
    max_size=8,
).flatmap(
    lambda items: st.sampled_from([", ", "; ", " and ", "\n", " & "]).map(
        lambda sep: sep.join(name if n is None else f"{name} {n}" for name, n in items)
    )
)
words = st.sampled_from(
    [
        "skip",
        "Skip.",
        "done",
        "Done!",
        "yes",
        "no",
        "ok",
        "continue",
        "new",
        "start over",
        "keep going",
        "1, 4",
        "2 and 12",
        "mind reading",
        "-",
        "n/a",
        "",
        "   ",
    ]
)
commands = st.sampled_from(["back", "cancel", "example"]).map(Command)
POSITIONS = ["0.0", "1.0", "2.0", "3.0", "4.0", "5.0", "6.0", "7.0", "8.0", "8.1", "8.5", "9.0"]
CODES = ["ex", "bk", "cx", "kp", "dn", "sk", "cl", "y", "n", "go", "new", "e:0", "e:11"]
CODES += ["e:12", "i:0", "i:70", "i:100", "i:75", "i:110", "t:0", "t:11", "t:12", "t:-1", ""]


def forged(state: ThoughtDraft, current: list[Button]) -> st.SearchStrategy[str]:
    """Random callback data, data shaped like ours, and real buttons with a forged code."""
    own = f"{PREFIX}:{state.id}:{state.position}:"
    prefixes = [own] * 3 + [b.data.rsplit(":", 1)[0] + ":" for b in current]
    code = st.one_of(
        st.sampled_from(CODES),
        short_text,
        st.builds("{}:{}".format, st.sampled_from("eit"), st.one_of(digitish, short_text)),
    )
    return st.one_of(
        st.text(characters, max_size=64),
        st.builds(
            lambda prefix, draft, position, code: f"{prefix}:{draft}:{position}:{code}",
            st.sampled_from(["T", "T", "H", "t", ""]),
            st.sampled_from([state.id, state.id, "other", state.id.upper(), ""]),
            st.one_of(st.sampled_from([state.position, *POSITIONS]), short_text),
            code,
        ),
        st.builds(str.__add__, st.sampled_from(prefixes), code),
    )


def valid_answer(state: ThoughtDraft) -> st.SearchStrategy[str]:
    """Something that answers the current question, so records get finished too."""
    if state.step == "emotions":
        if state.pending is not None:
            return st.integers(0, 100).map(str)
        return st.one_of(
            st.lists(st.sampled_from(EMOTION_NAMES), min_size=1, max_size=3, unique=True).map(
                lambda names: ", ".join(f"{n} {i * 10 + 5}" for i, n in enumerate(names))
            ),
            st.just("done"),
        )
    if state.step == "traps":
        return st.one_of(st.just("skip"), st.integers(1, TRAP_COUNT).map(str))
    if state.step in ("belief", "rerate"):
        return st.integers(0, 100).map(str)
    return st.text(characters, min_size=1, max_size=30).map(lambda t: "answer " + t)


def buttons_of(outcome: Outcome) -> list[Button]:
    return [b for reply in outcome.replies for row in reply.buttons for b in row]


@st.composite
def events(draw, state: ThoughtDraft, current: list[Button], seen: list[Button]) -> Event:
    kind = draw(st.integers(0, 99))
    if kind < 30:
        return Text(draw(valid_answer(state)))
    if kind < 50 and current:
        return Choice(draw(st.sampled_from(current)).data)
    if kind < 55 and seen:
        return Choice(draw(st.sampled_from(seen)).data)
    if kind < 62:
        return Choice(draw(forged(state, current)))
    if kind < 69:
        return draw(commands)
    if kind < 72:
        return NonText()
    text = draw(st.one_of(short_text, numbers, emotion_like, words, long_text))
    return Text(text)


# ── what must always hold ──────────────────────────────────────────────────────


def assert_sound(before: ThoughtDraft, outcome: Outcome) -> None:
    for reply in outcome.replies:
        assert reply.text.strip(), "a reply with no text"
        assert len(reply.text) <= MAX_ANSWER, "a reply longer than Telegram accepts"
        for row in reply.buttons:
            for button in row:
                assert button.label.strip()
                assert 1 <= len(button.data.encode()) <= 64, "Telegram's callback data limit"
    if outcome.expired:
        assert outcome.state == before
        assert outcome.replies == ()
        assert outcome.saved is None
        return
    assert outcome.replies, "every accepted event gets an answer"
    if outcome.state is not None:
        assert check(outcome.state) == []
        restored = ThoughtDraft.model_validate_json(outcome.state.model_dump_json())
        assert restored == outcome.state
    if outcome.saved is not None:
        assert outcome.state is None
        assert_complete(outcome.saved)
        card = "\n".join(r.text for r in outcome.replies)
        for e in outcome.saved.emotions:
            assert f"{e.name} {e.before} → {e.after}" in card


def assert_complete(saved: RecordAnswers) -> None:
    for field in ("situation", "hot_thought", "evidence_for", "evidence_against"):
        value = getattr(saved, field)
        assert value and value.strip() and len(value) <= MAX_ANSWER, field
    assert saved.balanced_thought and saved.balanced_thought.strip()
    assert 1 <= len(saved.emotions) <= 6
    assert len({e.name for e in saved.emotions}) == len(saved.emotions)
    assert all(e.after is not None for e in saved.emotions), "an emotion was not re-rated"
    assert saved.belief is None or 0 <= saved.belief <= 100


@SETTINGS
@given(st.data())
def test_any_sequence_of_events_keeps_the_draft_sound(data):
    ids = (f"n{i}" for i in itertools.count(1))
    outcome = start("d1")
    assert outcome.state is not None
    state = outcome.state
    current = buttons_of(outcome)
    seen = list(current)
    saved = 0
    for _ in range(data.draw(st.integers(1, 60), label="length")):
        action = data.draw(st.integers(0, 99), label="action")
        if action < 3:
            outcome = offer_resume(state)  # /thought again while a draft is there
        elif action < 5:
            outcome = prompt_again(state)  # the service re-asks after an expired button
        else:
            event = data.draw(events(state, current, seen), label="event")
            outcome = handle(state, event, lambda: next(ids))
        assert_sound(state, outcome)
        if outcome.saved is not None:
            saved += 1
        if outcome.state is None:
            outcome = start(next(ids))
        assert outcome.state is not None
        state = ThoughtDraft.model_validate_json(outcome.state.model_dump_json())
        if outcome.replies:
            current = buttons_of(outcome)
            seen.extend(current)
    tally(f"records saved: {min(saved, 2)}")
    tally(f"reached step: {state.step}")


# ── back, then "Keep my answer" ────────────────────────────────────────────────

answer_text = st.text(characters, min_size=1, max_size=200).map(str.strip).filter(bool)
emotion_name = st.text(st.characters(whitelist_categories=("Ll",)), min_size=1, max_size=12).filter(
    lambda n: n == n.lower() and n.isalpha()
)


@st.composite
def records(draw) -> RecordAnswers:
    names = draw(st.lists(emotion_name, min_size=1, max_size=6, unique=True))
    emotions = [
        Emotion(name=name, before=draw(st.integers(0, 100)), after=draw(st.integers(0, 100)))
        for name in names
    ]
    trap_keys = [
        "all_or_nothing",
        "overgeneralising",
        "mental_filter",
        "discounting_positive",
        "mind_reading",
        "fortune_telling",
        "magnifying",
        "emotional_reasoning",
        "should_statements",
        "labelling",
        "personalising",
        "comparing",
    ]
    chosen = draw(st.sets(st.integers(0, TRAP_COUNT - 1)))
    return RecordAnswers(
        situation=draw(answer_text),
        emotions=emotions,
        hot_thought=draw(answer_text),
        evidence_for=draw(answer_text),
        evidence_against=draw(answer_text),
        traps=[trap_keys[i] for i in sorted(chosen)],
        balanced_thought=draw(answer_text),
        belief=draw(st.one_of(st.none(), st.integers(0, 100))),
    )


def typed_answers(record: RecordAnswers) -> list[str]:
    keys = [
        "all_or_nothing",
        "overgeneralising",
        "mental_filter",
        "discounting_positive",
        "mind_reading",
        "fortune_telling",
        "magnifying",
        "emotional_reasoning",
        "should_statements",
        "labelling",
        "personalising",
        "comparing",
    ]
    traps = ", ".join(str(keys.index(k) + 1) for k in record.traps) or "skip"
    return [
        record.situation or "",
        ", ".join(f"{e.name} {e.before}" for e in record.emotions),
        record.hot_thought or "",
        record.evidence_for or "",
        record.evidence_against or "",
        traps,
        record.balanced_thought or "",
        "skip" if record.belief is None else str(record.belief),
        *(str(e.after) for e in record.emotions),
    ]


@SETTINGS
@given(records(), st.data())
def test_back_then_keep_restores_the_same_answers(record, data):
    def send(state: ThoughtDraft, event: Event) -> Outcome:
        outcome = handle(state, event, lambda: "x")
        assert not outcome.expired
        assert_sound(state, outcome)
        return outcome

    outcome = start("d1")
    typed = typed_answers(record)
    # back-and-keep after some answers (always the last one), then check nothing changed
    where = data.draw(st.sets(st.integers(1, len(typed) - 1)), label="where") | {len(typed) - 1}
    for answered, text in enumerate(typed):
        state = outcome.state
        assert state is not None
        if answered in where:
            back = send(state, Command("back"))
            assert back.state is not None
            offered = {b.label: b for b in buttons_of(back)}
            keep = offered.get(KEEP) or offered[DONE]
            kept = send(back.state, Choice(keep.data))
            assert kept.state == state
            assert kept.state is not None and kept.state.answers() == state.answers()
            assert kept.replies[-1].text == outcome.replies[-1].text
        outcome = send(state, Text(text))
    assert outcome.state is None
    assert outcome.saved == record
