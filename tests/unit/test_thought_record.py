"""The thought record, driven by plain function calls: what the person sees, taps and keeps.

Every outcome passes through `Chat`, which asserts the draft's invariants (`check`) and
continues from a JSON round trip of the draft, as the service does between messages.
"""

from __future__ import annotations

import itertools
import re

import pytest

from flows.events import Choice, Command, Event, NonText, Text
from flows.record import RecordAnswers
from flows.replies import Button
from flows.thought_record import (
    Outcome,
    ThoughtDraft,
    check,
    handle,
    offer_resume,
    parked_notice,
    prompt_again,
    start,
)

TOTAL = 9  # "Step N of 9" as the content file counts them

# Labels as the person sees them.
EXAMPLE = "💡 Example"
BACK = "⬅ Back"
CANCEL = "✖ Cancel"
DONE = "Done ✓"
SKIP = "Skip"
KEEP = "Keep my answer"
CLEAR = "Clear"
CONTINUE = "Continue"
START_OVER = "Start a new one"
YES_DROP = "Yes, drop it"
NO_KEEP = "No, keep going"

NON_TEXT = "I can only read text"
BAD_INTENSITY = "Please give a number from 0 to 100, like 70 (or 70%)."

SITUATION = "Sunday evening at home. I called my daughter and she hung up after two minutes."
EMOTIONS = "frustrated 80, ashamed 60"
HOT = "My kids don't want me in their lives."
EVIDENCE_FOR = "She ended the call quickly. They rarely call first."
EVIDENCE_AGAINST = "She picked up. Last month she sent me photos of her garden."
TRAPS = "1, 4"
BALANCED = "She was busy tonight; I can call again on Saturday morning."
BELIEF = "70"
RERATES = ("40", "25")

# What to type at each position, in order, and the step number shown there.
SCRIPT = (SITUATION, EMOTIONS, HOT, EVIDENCE_FOR, EVIDENCE_AGAINST, TRAPS, BALANCED, BELIEF)
SCRIPT += RERATES
STEP_NUMBERS = (1, 2, 3, 4, 5, 6, 7, 7, 8, 8)
TEXT_POSITIONS = {0: "situation", 2: "hot_thought", 3: "evidence_for", 4: "evidence_against"}
TEXT_POSITIONS[6] = "balanced_thought"


def header(step: int) -> str:
    return f"Step {step} of {TOTAL}"


class Chat:
    """One person filling in one thought record, message by message."""

    def __init__(self, draft_id: str = "d1") -> None:
        self._ids = (f"n{i}" for i in itertools.count(1))
        self.state: ThoughtDraft | None = None
        self.saved: RecordAnswers | None = None
        self.outcome: Outcome
        self.screen: Outcome  # the last outcome that said something: what the person sees
        self.apply(start(draft_id))

    def new_id(self) -> str:
        return next(self._ids)

    def apply(self, outcome: Outcome) -> Outcome:
        if outcome.state is not None:
            assert check(outcome.state) == []
            restored = ThoughtDraft.model_validate_json(outcome.state.model_dump_json())
            assert restored == outcome.state
            self.state = restored
        else:
            self.state = None
        if outcome.saved is not None:
            self.saved = outcome.saved
        self.outcome = outcome
        if outcome.replies:
            self.screen = outcome
        return outcome

    def send(self, event: Event) -> Outcome:
        assert self.state is not None, "the draft is gone"
        return self.apply(handle(self.state, event, self.new_id))

    def say(self, text: str) -> Outcome:
        return self.send(Text(text))

    def command(self, name: str) -> Outcome:
        return self.send(Command(name))  # type: ignore[arg-type]

    def tap(self, label: str) -> Outcome:
        return self.send(Choice(self.button(label).data))

    def button(self, label: str) -> Button:
        for reply in reversed(self.screen.replies):
            for row in reply.buttons:
                for button in row:
                    if button.label == label:
                        return button
        raise AssertionError(f"no button {label!r}; offered: {self.labels()}")

    def labels(self) -> list[str]:
        return [b.label for r in self.screen.replies for row in r.buttons for b in row]

    @property
    def text(self) -> str:
        return "\n\n".join(r.text for r in self.screen.replies)


def chat_at(answered: int, draft_id: str = "d1") -> Chat:
    """A chat that has typed the first `answered` answers of SCRIPT."""
    chat = Chat(draft_id)
    for text in SCRIPT[:answered]:
        chat.say(text)
    return chat


def example_name(text: str) -> str:
    match = re.search(r"Example \((.+?)\):", text)
    assert match, text
    return match.group(1)


# ── the whole record, step by step ────────────────────────────────────────────


def test_start_introduces_the_record_and_asks_step_1():
    chat = Chat()
    intro, question = chat.outcome.replies
    assert "/example" in intro.text and "/back" in intro.text and "/cancel" in intro.text
    assert question.text.startswith(header(1))
    assert "What happened?" in question.text
    assert chat.labels() == [EXAMPLE, CANCEL]  # nothing to go back to yet


def test_typed_record_walks_every_step_and_saves_before_and_after():
    chat = Chat()

    chat.say(SITUATION)
    assert header(2) in chat.text and "What did you feel?" in chat.text
    chat.say(EMOTIONS)
    assert header(3) in chat.text and "What went through your mind" in chat.text
    chat.say(HOT)
    assert header(4) in chat.text and "What makes it feel true?" in chat.text
    chat.say(EVIDENCE_FOR)
    assert header(5) in chat.text and "What would you tell a friend" in chat.text
    chat.say(EVIDENCE_AGAINST)
    assert header(6) in chat.text and "thinking traps" in chat.text
    assert "1. All-or-nothing" in chat.text and "12. Comparing" in chat.text
    chat.say(TRAPS)
    assert header(7) in chat.text and "balanced way to see it" in chat.text
    chat.say(BALANCED)
    assert header(7) in chat.text and "How much do you believe" in chat.text
    chat.say(BELIEF)
    assert header(8) in chat.text and "Frustrated — it was 80. How strong is it now" in chat.text
    chat.say("40")
    assert header(8) in chat.text and "Ashamed — it was 60. How strong is it now" in chat.text
    assert chat.saved is None
    chat.say("25")

    assert chat.state is None
    card = chat.text
    assert card.startswith("✅ Saved.")
    assert "frustrated 80 → 40 (−40), ashamed 60 → 25 (−35)" in card
    assert SITUATION in card and HOT in card and BALANCED in card
    assert "All-or-nothing, Discounting the positive" in card
    assert "(believed 70/100)" in card

    saved = chat.saved
    assert saved is not None
    assert saved.situation == SITUATION
    assert [(e.name, e.before, e.after) for e in saved.emotions] == [
        ("frustrated", 80, 40),
        ("ashamed", 60, 25),
    ]
    assert saved.hot_thought == HOT
    assert saved.evidence_for == EVIDENCE_FOR
    assert saved.evidence_against == EVIDENCE_AGAINST
    assert saved.traps == ["all_or_nothing", "discounting_positive"]
    assert saved.balanced_thought == BALANCED
    assert saved.belief == 70


@pytest.mark.parametrize("answered", range(len(SCRIPT)))
def test_every_position_shows_its_step_number(answered):
    chat = chat_at(answered)
    assert header(STEP_NUMBERS[answered]) in chat.text


def test_one_step_left_and_a_step_with_no_answer_offer_no_keep_button():
    chat = chat_at(1)
    assert KEEP not in chat.labels()
    assert DONE not in chat.labels()  # no emotion named yet


# ── emotions: typed and tapped ────────────────────────────────────────────────


def emotions_of(chat: Chat) -> list[tuple[str, int]]:
    assert chat.state is not None
    return [(e.name, e.before) for e in chat.state.emotions]


def test_typed_emotion_with_percent_moves_on():
    chat = chat_at(1)
    chat.say("sad 70%")
    assert header(3) in chat.text
    assert emotions_of(chat) == [("sad", 70)]


def test_lone_emotion_then_intensity_then_done():
    chat = chat_at(1)
    chat.say("sad")
    assert header(2) in chat.text
    assert "How strong was sad?" in chat.text
    assert [str(n) for n in range(0, 101, 10)] == chat.labels()[:11]
    chat.say("70")
    assert "Got it: sad 70." in chat.text
    assert DONE in chat.labels()
    chat.say("done")
    assert header(3) in chat.text
    assert emotions_of(chat) == [("sad", 70)]


def test_tapped_emotions_with_intensity_buttons_then_done():
    chat = chat_at(1)
    chat.tap("sad")
    assert "How strong was sad?" in chat.text
    chat.tap("70")
    assert "Got it: sad 70." in chat.text
    chat.tap("anxious")
    chat.tap("40")
    assert "Got it: sad 70, anxious 40." in chat.text
    chat.tap(DONE)
    assert header(3) in chat.text
    assert emotions_of(chat) == [("sad", 70), ("anxious", 40)]

    for text in SCRIPT[2:8]:
        chat.say(text)
    assert "Sad — it was 70" in chat.text
    chat.tap("30")
    assert "Anxious — it was 40" in chat.text
    chat.tap("20")
    assert "sad 70 → 30 (−40), anxious 40 → 20 (−20)" in chat.text
    assert chat.saved is not None
    assert [(e.name, e.after) for e in chat.saved.emotions] == [("sad", 30), ("anxious", 20)]


def test_tapped_emotion_then_typed_intensity():
    chat = chat_at(1)
    chat.tap("lonely")
    chat.say("55 %")
    assert "Got it: lonely 55." in chat.text


def test_typing_an_emotion_again_updates_its_intensity():
    chat = chat_at(1)
    chat.tap("sad")
    chat.tap("70")
    chat.say("sad 50, angry 20")
    assert header(3) in chat.text
    assert emotions_of(chat) == [("sad", 50), ("angry", 20)]


def test_emotion_names_in_other_scripts_are_kept():
    chat = chat_at(1)
    chat.say("грусть 70, тревога 40")
    assert emotions_of(chat) == [("грусть", 70), ("тревога", 40)]
    for text in SCRIPT[2:8]:
        chat.say(text)
    assert "Грусть — it was 70" in chat.text


def test_more_than_six_emotions_keeps_the_strongest_six():
    chat = chat_at(1)
    chat.say("sad 10, angry 20, hurt 30, lonely 40, guilty 50, worried 60, jealous 70")
    assert "let's keep the strongest 6" in chat.text
    assert header(3) in chat.text
    assert [name for name, _ in emotions_of(chat)] == [
        "jealous",
        "worried",
        "guilty",
        "lonely",
        "hurt",
        "angry",
    ]


def test_clear_empties_the_emotion_list():
    chat = chat_at(1)
    chat.tap("sad")
    chat.tap("70")
    chat.tap(CLEAR)
    assert "Got it" not in chat.text
    assert DONE not in chat.labels()
    assert emotions_of(chat) == []


def test_back_while_an_intensity_is_asked_returns_to_the_emotion_question():
    chat = chat_at(1)
    chat.tap("sad")
    chat.command("back")
    assert header(2) in chat.text
    assert "What did you feel?" in chat.text
    assert "sad" in chat.labels()
    assert emotions_of(chat) == []


# ── bad input ──────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("typed", ["", "   ", ",", ", ;", " , \n ,"])
def test_empty_emotion_list_is_reasked(typed):
    chat = chat_at(1)
    before = chat.state
    chat.say(typed)
    assert chat.state == before
    assert "What did you feel" not in chat.text  # a re-ask, not the question again
    assert "sad 70" in chat.text or "a few words" in chat.text
    assert "sad" in chat.labels()  # the emotion buttons are still there to tap


@pytest.mark.parametrize("typed", ["sad 150", "sad -5", "sad −5", "sad 70 80"])
def test_typed_emotion_with_bad_intensity_is_reasked(typed):
    chat = chat_at(1)
    before = chat.state
    chat.say(typed)
    assert chat.state == before
    assert 'For "sad", please give a number from 0 to 100 — like "sad 70".' in chat.text


def test_unreadable_emotion_name_is_reasked():
    chat = chat_at(1)
    before = chat.state
    chat.say("😢😢 70")
    assert chat.state == before
    assert "I couldn't read" in chat.text and 'like "sad 70"' in chat.text


@pytest.mark.parametrize("typed", ["150", "-5", "101", "70 80"])
def test_bad_intensity_for_a_tapped_emotion_is_reasked(typed):
    chat = chat_at(1)
    chat.tap("sad")
    before = chat.state
    chat.say(typed)
    assert chat.state == before
    assert chat.text == BAD_INTENSITY
    assert "100" in chat.labels()  # intensity buttons offered again
    chat.say("70")
    assert emotions_of(chat) == [("sad", 70)]


@pytest.mark.parametrize("typed", ["abc", "seventy", "done", "skip", "sad"])
def test_words_for_the_intensity_of_a_tapped_emotion_are_reasked(typed):
    chat = chat_at(1)
    chat.tap("sad")
    before = chat.state
    chat.say(typed)
    assert chat.state == before
    assert chat.text == BAD_INTENSITY


@pytest.mark.parametrize("answered", [7, 8, 9], ids=["belief", "rerate-1", "rerate-2"])
@pytest.mark.parametrize("typed", ["abc", "150", "-5", "70 80", "seventy"])
def test_bad_rating_is_reasked_without_moving(answered, typed):
    chat = chat_at(answered)
    before = chat.state
    chat.say(typed)
    assert chat.state == before
    assert chat.text == BAD_INTENSITY
    assert "70" in chat.labels()


@pytest.mark.parametrize("answered", range(len(SCRIPT)))
def test_non_text_is_refused_without_moving(answered):
    chat = chat_at(answered)
    before = chat.state
    chat.send(NonText())
    assert chat.state == before
    assert NON_TEXT in chat.text
    assert EXAMPLE in chat.labels()


@pytest.mark.parametrize("answered", sorted(TEXT_POSITIONS))
def test_blank_text_answer_is_reasked(answered):
    chat = chat_at(answered)
    before = chat.state
    chat.say(" \n\t ")
    assert chat.state == before
    assert "Could you write a few words?" in chat.text


def long_text(length: int) -> str:
    text = ("It was hard — ünïcode, שלום, 😢 and more. " * (length // 10 + 1))[: length - 1]
    return text + "."


@pytest.mark.parametrize("answered", sorted(TEXT_POSITIONS))
def test_answers_of_4096_characters_are_kept_whole(answered):
    chat = chat_at(answered)
    answer = long_text(4096)
    assert len(answer) == 4096
    chat.say(answer)
    assert header(STEP_NUMBERS[answered + 1]) in chat.text
    for text in SCRIPT[answered + 1 :]:
        chat.say(text)
    assert chat.saved is not None
    assert getattr(chat.saved, TEXT_POSITIONS[answered]) == answer


@pytest.mark.parametrize("answered", sorted(TEXT_POSITIONS))
def test_back_to_a_long_answer_shows_it_shortened_and_keeps_it_whole(answered):
    chat = chat_at(answered)
    answer = long_text(4096)
    chat.say(answer)
    chat.command("back")
    assert "Your earlier answer:" in chat.text
    assert answer[:1000] in chat.text
    assert all(len(reply.text) <= 4096 for reply in chat.screen.replies)
    chat.tap(KEEP)
    for text in SCRIPT[answered + 1 :]:
        chat.say(text)
    assert chat.saved is not None
    assert getattr(chat.saved, TEXT_POSITIONS[answered]) == answer


@pytest.mark.parametrize("answered", [*sorted(TEXT_POSITIONS), 1, 5, 7, 8])
def test_answers_longer_than_4096_characters_are_refused(answered):
    chat = chat_at(answered)
    before = chat.state
    chat.say(long_text(4097))
    assert chat.state == before
    assert "more than I can keep in one answer (4096 characters)" in chat.text


# ── the hot thought quoted again ──────────────────────────────────────────────


@pytest.mark.parametrize("answered", [3, 4, 5, 6, 8, 9], ids=[4, 5, 6, 7, "8a", "8b"])
def test_hot_thought_is_quoted_on_later_steps(answered):
    chat = chat_at(answered)
    assert f'"{HOT}"' in chat.text


def test_a_long_hot_thought_is_quoted_short_but_saved_whole():
    chat = chat_at(2)
    hot = long_text(1000)
    chat.say(hot)
    assert hot[:100] in chat.text
    assert hot not in chat.text
    assert "…" in chat.text
    for text in SCRIPT[3:]:
        chat.say(text)
    assert chat.saved is not None and chat.saved.hot_thought == hot


# ── thinking traps ─────────────────────────────────────────────────────────────


def test_traps_toggle_in_place_with_a_tick():
    chat = chat_at(5)
    chat.tap("Mind reading")
    (reply,) = chat.outcome.replies
    assert reply.replace is True
    assert "5. ✓ Mind reading" in reply.text
    assert "✓ Mind reading" in chat.labels()

    chat.tap("Labelling")
    assert "✓ Mind reading" in chat.labels() and "✓ Labelling" in chat.labels()

    chat.tap("✓ Mind reading")  # untick
    assert chat.outcome.replies[0].replace is True
    assert "Mind reading" in chat.labels() and "✓ Mind reading" not in chat.labels()
    assert "✓ Mind reading" not in chat.text

    chat.tap(DONE)
    assert header(7) in chat.text
    for text in SCRIPT[6:]:
        chat.say(text)
    assert chat.saved is not None and chat.saved.traps == ["labelling"]
    assert "Thinking traps: Labelling" in chat.text


@pytest.mark.parametrize(
    ("typed", "traps"),
    [
        ("1, 4", ["all_or_nothing", "discounting_positive"]),
        ("5", ["mind_reading"]),
        ("10 12", ["labelling", "comparing"]),
        ("mind reading and labelling", ["mind_reading", "labelling"]),
        ("Fortune telling; should statements", ["fortune_telling", "should_statements"]),
    ],
)
def test_traps_typed_by_number_or_name(typed, traps):
    chat = chat_at(5)
    chat.say(typed)
    assert header(7) in chat.text
    assert chat.state is not None and chat.state.traps == traps


@pytest.mark.parametrize("how", ["typed", "button"])
def test_traps_can_be_skipped(how):
    chat = chat_at(5)
    chat.tap("Mind reading")
    if how == "typed":
        chat.say("skip")
    else:
        chat.tap(SKIP)
    assert header(7) in chat.text
    for text in SCRIPT[6:]:
        chat.say(text)
    assert chat.saved is not None and chat.saved.traps == []
    assert "Thinking traps: none chosen" in chat.text


@pytest.mark.parametrize("typed", ["13", "0", "banana", "1, banana"])
def test_unknown_traps_are_reasked(typed):
    chat = chat_at(5)
    before = chat.state
    chat.say(typed)
    assert chat.state == before
    assert '"1, 4"' in chat.text and '"skip"' in chat.text


@pytest.mark.parametrize("typed", ["²", "1²"])
def test_superscript_digits_at_the_traps_step_are_reasked(typed):
    chat = chat_at(5)
    before = chat.state
    chat.say(typed)
    assert chat.state == before
    assert '"1, 4"' in chat.text


# ── belief (optional) ──────────────────────────────────────────────────────────


@pytest.mark.parametrize("how", ["typed", "button", "typed-capital"])
def test_belief_can_be_skipped(how):
    chat = chat_at(7)
    if how == "button":
        chat.tap(SKIP)
    else:
        chat.say("skip" if how == "typed" else "Skip.")
    assert header(8) in chat.text and "Frustrated — it was 80" in chat.text
    for text in RERATES:
        chat.say(text)
    assert chat.saved is not None and chat.saved.belief is None
    assert "believed" not in chat.text


@pytest.mark.parametrize(("typed", "belief"), [("70%", 70), ("0", 0), ("100", 100)])
def test_belief_typed(typed, belief):
    chat = chat_at(7)
    chat.say(typed)
    assert header(8) in chat.text
    for text in RERATES:
        chat.say(text)
    assert chat.saved is not None and chat.saved.belief == belief
    assert f"(believed {belief}/100)" in chat.text


def test_belief_and_rerate_by_buttons():
    chat = chat_at(7)
    chat.tap("60")
    chat.tap("50")
    chat.tap("30")
    assert chat.saved is not None
    assert chat.saved.belief == 60
    assert [e.after for e in chat.saved.emotions] == [50, 30]


def test_rerate_cannot_be_skipped():
    chat = chat_at(8)
    assert SKIP not in chat.labels()
    before = chat.state
    chat.say("skip")
    assert chat.state == before
    assert chat.text == BAD_INTENSITY


# ── /back ──────────────────────────────────────────────────────────────────────

# What the earlier answer looks like when /back returns to a position, and how to keep it.
EARLIER = {
    0: (f"Your earlier answer:\n{SITUATION}", KEEP),
    1: ("Got it: frustrated 80, ashamed 60.", DONE),
    2: (f"Your earlier answer:\n{HOT}", KEEP),
    3: (f"Your earlier answer:\n{EVIDENCE_FOR}", KEEP),
    4: (f"Your earlier answer:\n{EVIDENCE_AGAINST}", KEEP),
    5: ("1. ✓ All-or-nothing", DONE),
    6: (f"Your earlier answer:\n{BALANCED}", KEEP),
    7: ("Earlier: 70.", KEEP),
    8: ("Earlier: 40.", KEEP),
}


@pytest.mark.parametrize("answered", range(1, len(SCRIPT)))
@pytest.mark.parametrize("via", ["command", "button"])
def test_back_shows_the_earlier_answer_and_keep_restores_it(answered, via):
    chat = chat_at(answered)
    before = chat.state
    assert before is not None
    if via == "command":
        chat.command("back")
    else:
        chat.tap(BACK)
    shown, keep = EARLIER[answered - 1]
    assert header(STEP_NUMBERS[answered - 1]) in chat.text
    assert shown in chat.text
    assert keep in chat.labels()

    chat.tap(keep)
    assert header(STEP_NUMBERS[answered]) in chat.text
    assert chat.state is not None
    assert chat.state.answers() == before.answers()
    assert chat.state == before


@pytest.mark.parametrize("answered", [*sorted(TEXT_POSITIONS), 7])
def test_back_then_the_same_answer_typed_again_goes_forward(answered):
    chat = chat_at(answered + 1)
    before = chat.state
    assert before is not None
    chat.command("back")
    chat.say(SCRIPT[answered])
    assert header(STEP_NUMBERS[answered + 1]) in chat.text
    assert chat.state is not None and chat.state.answers() == before.answers()


def test_back_then_a_new_answer_replaces_the_old_one():
    chat = chat_at(4)
    chat.command("back")
    chat.command("back")
    assert f"Your earlier answer:\n{HOT}" in chat.text
    chat.say("I've ruined it with them.")
    assert header(4) in chat.text
    assert '"I\'ve ruined it with them."' in chat.text
    assert f"Your earlier answer:\n{EVIDENCE_FOR}" in chat.text  # later answers survive
    chat.tap(KEEP)
    for text in SCRIPT[4:]:
        chat.say(text)
    assert chat.saved is not None
    assert chat.saved.hot_thought == "I've ruined it with them."
    assert chat.saved.evidence_for == EVIDENCE_FOR


def test_back_through_every_step_and_forward_again_keeps_everything():
    chat = chat_at(len(SCRIPT) - 1)
    before = chat.state
    assert before is not None
    for _ in range(len(SCRIPT) - 1):
        chat.command("back")
    assert header(1) in chat.text
    for _ in range(len(SCRIPT) - 1):
        chat.tap(KEEP if KEEP in chat.labels() else DONE)
    assert chat.state == before
    chat.say(RERATES[-1])
    frustrated, ashamed = before.emotions
    expected = before.answers().model_copy(
        update={"emotions": [frustrated, ashamed.model_copy(update={"after": 25})]}
    )
    assert chat.saved == expected
    assert [e.after for e in chat.saved.emotions] == [40, 25]


def test_back_to_emotions_and_adding_one_asks_to_rerate_it_too():
    chat = chat_at(3)
    chat.command("back")
    chat.command("back")
    assert "Got it: frustrated 80, ashamed 60." in chat.text
    chat.tap("lonely")
    chat.tap("30")
    chat.tap(DONE)
    assert f"Your earlier answer:\n{HOT}" in chat.text
    chat.tap(KEEP)
    for text in SCRIPT[3:]:
        chat.say(text)
    assert "Lonely — it was 30" in chat.text
    chat.say("10")
    assert chat.saved is not None
    assert [(e.name, e.after) for e in chat.saved.emotions] == [
        ("frustrated", 40),
        ("ashamed", 25),
        ("lonely", 10),
    ]


def test_back_at_step_1_stays():
    chat = Chat()
    before = chat.state
    chat.command("back")
    assert chat.state == before
    assert "This is the first step" in chat.text
    chat.say(SITUATION)
    assert header(2) in chat.text


def test_back_at_step_1_with_an_answer_stays():
    chat = chat_at(1)
    chat.command("back")
    chat.command("back")
    assert "This is the first step" in chat.text
    assert chat.state is not None and chat.state.situation == SITUATION


# ── /cancel ────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("how", ["command", "button"])
def test_cancel_without_answers_stops_at_once(how):
    chat = Chat()
    if how == "command":
        chat.command("cancel")
    else:
        chat.tap(CANCEL)
    assert chat.state is None
    assert chat.saved is None
    assert "stopped" in chat.text and "/thought" in chat.text


@pytest.mark.parametrize("answered", range(1, len(SCRIPT)))
def test_cancel_with_answers_asks_and_yes_drops(answered):
    chat = chat_at(answered)
    chat.command("cancel")
    assert chat.state is not None
    assert "Drop this thought record?" in chat.text
    assert chat.labels() == [YES_DROP, NO_KEEP]
    chat.tap(YES_DROP)
    assert chat.state is None
    assert chat.saved is None
    assert "dropped" in chat.text


@pytest.mark.parametrize("answered", range(1, len(SCRIPT)))
def test_cancel_then_no_keeps_everything(answered):
    chat = chat_at(answered)
    before = chat.state
    assert before is not None
    chat.tap(CANCEL)
    chat.tap(NO_KEEP)
    assert "Good — carrying on." in chat.text
    assert header(STEP_NUMBERS[answered]) in chat.text
    assert chat.state == before
    for text in SCRIPT[answered:]:
        chat.say(text)
    assert chat.saved is not None
    assert chat.saved.situation == SITUATION


@pytest.mark.parametrize(
    ("typed", "dropped"), [("yes", True), ("Yes, drop it", True), ("no", False)]
)
def test_cancel_confirmation_can_be_typed(typed, dropped):
    chat = chat_at(3)
    before = chat.state
    chat.command("cancel")
    chat.say(typed)
    if dropped:
        assert chat.state is None and "dropped" in chat.text
    else:
        assert chat.state == before and header(4) in chat.text


@pytest.mark.parametrize("event", [Text("maybe"), NonText()], ids=["maybe", "sticker"])
def test_cancel_confirmation_asks_again_for_anything_else(event):
    chat = chat_at(3)
    chat.command("cancel")
    asking = chat.state
    chat.send(event)
    assert chat.state == asking
    assert 'type "yes" or "no"' in chat.text
    assert chat.labels() == [YES_DROP, NO_KEEP]
    chat.tap(NO_KEEP)
    assert header(4) in chat.text


def test_buttons_under_the_question_are_expired_while_confirming():
    chat = chat_at(3)
    example = chat.button(EXAMPLE)
    chat.command("cancel")
    asking = chat.state
    outcome = chat.send(Choice(example.data))
    assert outcome.expired
    assert chat.state == asking


# ── /example ───────────────────────────────────────────────────────────────────

EXAMPLE_PARTS = (
    "Situation:",
    "Emotions:",
    "Hot thought:",
    "Evidence for:",
    "Evidence against:",
    "Thinking traps:",
    "Balanced thought:",
    "— believed",
    "Re-rated:",
    "Re-rated:",
)


@pytest.mark.parametrize("answered", range(len(SCRIPT)))
@pytest.mark.parametrize("via", ["command", "button"])
def test_example_at_every_step_and_a_different_one_when_asked_again(answered, via):
    chat = chat_at(answered)
    before = chat.state
    assert before is not None

    def ask() -> str:
        if via == "command":
            chat.command("example")
        else:
            chat.tap(EXAMPLE)
        return chat.text

    first = ask()
    assert first.startswith("Example (")
    assert EXAMPLE_PARTS[answered] in first
    second = ask()
    assert EXAMPLE_PARTS[answered] in second
    assert example_name(second) != example_name(first)
    assert second != first

    assert chat.state is not None
    assert chat.state.answers() == before.answers()
    assert EXAMPLE in chat.labels()  # still answerable from the example message
    chat.say(SCRIPT[answered])
    if answered + 1 < len(SCRIPT):
        assert header(STEP_NUMBERS[answered + 1]) in chat.text
    else:
        assert chat.saved is not None


def test_example_cycles_through_all_worked_examples():
    chat = Chat()
    names = []
    for _ in range(3):
        chat.command("example")
        names.append(example_name(chat.text))
    assert len(set(names)) == 3
    chat.command("example")
    assert example_name(chat.text) == names[0]


def test_the_same_worked_example_continues_on_the_next_step():
    chat = Chat()
    chat.command("example")
    chat.command("example")
    assert example_name(chat.text) == "mistakes at work"
    chat.say(SITUATION)
    chat.command("example")
    assert example_name(chat.text) == "mistakes at work"
    assert "frustrated 80, anxious 70" in chat.text


def test_example_while_an_intensity_is_asked_keeps_the_intensity_question():
    chat = chat_at(1)
    chat.tap("sad")
    chat.command("example")
    assert "Emotions:" in chat.text
    chat.tap("70")
    assert "Got it: sad 70." in chat.text


# ── resuming an unfinished record ──────────────────────────────────────────────


@pytest.mark.parametrize("how", ["button", "typed"])
def test_resume_with_continue_shows_earlier_answers_and_the_step(how):
    chat = chat_at(3)
    chat.apply(offer_resume(chat.state))
    assert "unfinished thought record (step 4 of 9)" in chat.text
    assert chat.labels() == [CONTINUE, START_OVER]
    if how == "button":
        chat.tap(CONTINUE)
    else:
        chat.say("continue")
    assert "Welcome back" in chat.text
    assert SITUATION in chat.text
    assert "frustrated 80, ashamed 60" in chat.text
    assert HOT in chat.text
    assert header(4) in chat.text
    assert "What makes it feel true?" in chat.text
    chat.say(EVIDENCE_FOR)
    assert header(5) in chat.text


@pytest.mark.parametrize("how", ["button", "typed"])
def test_resume_start_a_new_one_gives_a_fresh_draft_with_a_new_id(how):
    chat = chat_at(3)
    old = chat.state
    assert old is not None
    chat.apply(offer_resume(old))
    old_continue = chat.button(CONTINUE)
    if how == "button":
        chat.tap(START_OVER)
    else:
        chat.say("start over")
    new = chat.state
    assert new is not None
    assert new.id == "n1"
    assert new.id != old.id
    assert new.answers() == RecordAnswers()
    assert "Let's look at one moment" in chat.text
    assert header(1) in chat.text

    outcome = chat.send(Choice(old_continue.data))  # a button of the old draft
    assert outcome.expired and chat.state == new


def test_resume_offer_asks_again_for_anything_else():
    chat = chat_at(3)
    chat.apply(offer_resume(chat.state))
    offered = chat.state
    chat.say("what?")
    assert chat.state == offered
    assert 'Tap "Continue" or "Start a new one".' in chat.text
    assert chat.labels() == [CONTINUE, START_OVER]


def test_resume_at_a_rerating_shows_step_8():
    chat = chat_at(9)
    chat.apply(offer_resume(chat.state))
    assert "(step 8 of 9)" in chat.text
    chat.tap(CONTINUE)
    assert "Ashamed — it was 60" in chat.text


def test_parked_notice_names_the_step_and_the_way_back():
    chat = chat_at(3)
    assert chat.state is not None
    notice = parked_notice(chat.state)
    assert "step 4 of 9" in notice
    assert "/thought" in notice


def test_prompt_again_asks_the_current_question_ready_for_an_answer():
    chat = chat_at(3)
    chat.command("cancel")  # waiting for yes/no
    chat.apply(prompt_again(chat.state, "Here's where you are now:"))
    assert chat.text.startswith("Here's where you are now:")
    assert header(4) in chat.text
    chat.say(EVIDENCE_FOR)
    assert header(5) in chat.text


# ── stale and forged buttons ───────────────────────────────────────────────────


def assert_expired(chat: Chat, data: str) -> None:
    before = chat.state
    outcome = chat.send(Choice(data))
    assert outcome.expired is True
    assert outcome.replies == ()
    assert outcome.saved is None
    assert chat.state == before


@pytest.mark.parametrize("answered", range(len(SCRIPT) - 1))
def test_buttons_from_an_earlier_step_are_expired(answered):
    chat = chat_at(answered)
    old = [b for row in chat.screen.replies[-1].buttons for b in row]
    chat.say(SCRIPT[answered])
    for button in old:
        assert_expired(chat, button.data)


def test_intensity_buttons_of_the_previous_emotion_are_expired():
    chat = chat_at(8)
    old_40 = chat.button("40")
    chat.tap("40")
    assert "Ashamed — it was 60" in chat.text
    assert_expired(chat, old_40.data)


def test_buttons_from_another_draft_are_expired():
    mine = chat_at(3, "d1")
    other = chat_at(3, "d2")
    for label in (EXAMPLE, BACK, CANCEL):
        assert_expired(mine, other.button(label).data)
    other.command("back")
    mine.command("back")
    assert_expired(mine, other.button(KEEP).data)


def test_buttons_of_a_dropped_draft_do_not_touch_the_new_one():
    chat = chat_at(3)
    old = chat.button(EXAMPLE)
    chat.tap(CANCEL)
    chat.tap(YES_DROP)
    chat.apply(start("d2"))
    assert_expired(chat, old.data)


FORGED_AT_EMOTIONS = [
    "",
    "T",
    "garbage",
    "T:d1",
    "T:d1:1.0",
    "T:d1:1.0:",
    "T:d2:1.0:e:0",
    "T:D1:1.0:e:0",
    "T:d1:0.0:e:0",
    "T:d1:1.00:e:0",
    "T:d1:2.0:e:0",
    "X:d1:1.0:e:0",
    "H:p:1",
    "T:d1:1.0:e:12",
    "T:d1:1.0:e:-1",
    "T:d1:1.0:e:x",
    "T:d1:1.0:e:0:0",
    "T:d1:1.0:e: 1",
    "T:d1:1.0:i:70",  # nothing waiting for an intensity
    "T:d1:1.0:dn",  # Done before any emotion
    "T:d1:1.0:cl",
    "T:d1:1.0:kp",
    "T:d1:1.0:y",
    "T:d1:1.0:go",
    "T:d1:1.0:new",
    "T:d1:1.0:t:0",
    "T:d1:1.0:sk",
    "T:d1:1.0:ex:extra",
    "T:d1:1.0:" + "9" * 5000,
]


@pytest.mark.parametrize("data", FORGED_AT_EMOTIONS)
def test_malformed_or_forged_data_is_expired(data):
    assert_expired(chat_at(1), data)


@pytest.mark.parametrize(
    ("answered", "data"),
    [
        (1, "T:d1:1.0:i:75"),  # with an emotion waiting, below
        (1, "T:d1:1.0:i:101"),
        (5, "T:d1:5.0:t:12"),
        (5, "T:d1:5.0:t:-1"),
        (5, "T:d1:5.0:i:70"),
        (5, "T:d1:5.0:kp"),
        (7, "T:d1:7.0:i:75"),
        (7, "T:d1:7.0:i:-10"),
        (7, "T:d1:7.0:i:"),
        (7, "T:d1:7.0:kp"),
        (8, "T:d1:8.0:sk"),
        (8, "T:d1:8.0:i:110"),
        (8, "T:d1:8.2:i:10"),  # a third emotion that does not exist
        (8, "T:d1:8.0:e:0"),
        (0, "T:d1:0.0:kp"),
        (0, "T:d1:0.0:bk:"),
    ],
)
def test_forged_data_for_the_current_step_is_expired(answered, data):
    chat = chat_at(answered)
    if answered == 1:
        chat.tap("sad")
    assert_expired(chat, data)


@pytest.mark.parametrize(
    ("answered", "data"),
    [(1, "T:d1:1.0:e:²"), (5, "T:d1:5.0:t:²"), (7, "T:d1:7.0:i:²")],
)
def test_forged_superscript_digits_are_expired(answered, data):
    assert_expired(chat_at(answered), data)


def test_confirm_and_resume_buttons_only_work_in_their_own_question():
    chat = chat_at(3)
    chat.tap(CANCEL)
    yes = chat.button(YES_DROP)
    chat.tap(NO_KEEP)
    assert_expired(chat, yes.data)

    chat.apply(offer_resume(chat.state))
    new = chat.button(START_OVER)
    chat.tap(CONTINUE)
    assert_expired(chat, new.data)


# ── the draft survives storage ─────────────────────────────────────────────────


def test_the_draft_survives_a_json_round_trip_at_every_step():
    chat = Chat()
    states = [chat.state]
    for text in SCRIPT[:-1]:
        chat.say(text)
        states.append(chat.state)
    chat.command("cancel")
    states.append(chat.state)
    chat.apply(offer_resume(chat.state))
    states.append(chat.state)
    for state in states:
        assert state is not None
        restored = ThoughtDraft.model_validate_json(state.model_dump_json())
        assert restored == state
        assert check(restored) == []
    # and a restored draft carries on as the original would
    last = states[-3]
    assert last is not None
    restored = ThoughtDraft.model_validate_json(last.model_dump_json())
    finished = handle(restored, Text(RERATES[-1]), lambda: "x")
    assert finished.state is None and finished.saved is not None
    assert finished.saved == handle(last, Text(RERATES[-1]), lambda: "x").saved
