"""The thought record as a pure state machine: (draft, event) → (draft, replies, saved record).

Nothing here touches the network, the database or the clock, so every path is a plain
function call in tests. The draft is serialisable (pydantic) and lives in the database
between messages; the service stores whatever `handle` returns before anything is sent.

Positions, in order: situation, emotions, hot_thought, evidence_for, evidence_against,
traps, balanced, belief, then one `rerate` per emotion (index = which emotion).
Button data is `T:<draft id>:<position>:<code>`, so a button from another draft or from a
step the user has left is recognised as expired rather than applied to the wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from flows.content import load
from flows.events import Choice, Command, Event, NonText, Text
from flows.parsing import (
    MAX_ANSWER,
    IntensityError,
    is_no,
    is_skip,
    is_yes,
    normalise,
    parse_choices,
    parse_emotions,
    parse_intensity,
)
from flows.record import Emotion, RecordAnswers, format_emotions, format_record
from flows.replies import Button, Reply, rows, shorten

Step = Literal[
    "situation",
    "emotions",
    "hot_thought",
    "evidence_for",
    "evidence_against",
    "traps",
    "balanced",
    "belief",
    "rerate",
]
STEPS: tuple[Step, ...] = (
    "situation",
    "emotions",
    "hot_thought",
    "evidence_for",
    "evidence_against",
    "traps",
    "balanced",
    "belief",
    "rerate",
)
TEXT_STEPS: dict[Step, str] = {
    "situation": "situation",
    "hot_thought": "hot_thought",
    "evidence_for": "evidence_for",
    "evidence_against": "evidence_against",
    "balanced": "balanced_thought",
}
Mode = Literal["answer", "confirm_cancel", "resume"]
PREFIX = "T"
MAX_EMOTIONS = 6
QUOTE = 300  # how much of the hot thought later steps quote back
INTENSITIES = list(range(0, 101, 10))


class ThoughtDraft(RecordAnswers):
    """An unfinished record: the answers so far plus where the person is."""

    id: str = Field(min_length=1, max_length=12, pattern=r"^[A-Za-z0-9]+$")
    step: Step = "situation"
    index: int = Field(default=0, ge=0)
    mode: Mode = "answer"
    pending: str | None = None  # emotion named, its intensity not yet given
    traps_answered: bool = False
    belief_answered: bool = False
    example: int = Field(default=0, ge=0)
    example_at: str | None = None  # position of the last example shown

    @property
    def position(self) -> str:
        return f"{STEPS.index(self.step)}.{self.index}"

    @property
    def step_number(self) -> int:
        return int(_content()["steps"][self.step]["number"])

    def answers(self) -> RecordAnswers:
        fields = set(RecordAnswers.model_fields)
        return RecordAnswers.model_validate(self.model_dump(include=fields))


@dataclass(frozen=True)
class Outcome:
    """What one event did. `state` None means the draft is gone: `saved` or dropped."""

    state: ThoughtDraft | None
    replies: tuple[Reply, ...]
    saved: RecordAnswers | None = None
    expired: bool = False


def _content() -> dict[str, Any]:
    return load("thought_record")


def _msg(key: str, **values: object) -> str:
    return str(_content()["messages"][key]).format(**values)


def _label(key: str) -> str:
    return str(_content()["labels"][key])


def total_steps() -> int:
    return int(_content()["total_steps"])


# ── entry points used by the service ───────────────────────────────────────────


def start(draft_id: str) -> Outcome:
    state = ThoughtDraft(id=draft_id)
    return Outcome(state, (Reply(_msg("intro")), _prompt(state)))


def offer_resume(state: ThoughtDraft) -> Outcome:
    """`/thought` with a draft already there: continue, or start a new one."""
    state = state.model_copy(update={"mode": "resume"})
    text = _msg("resume_offer", step=state.step_number, total=total_steps())
    buttons = ((_button(state, "continue", "go"), _button(state, "start_over", "new")),)
    return Outcome(state, (Reply(text, buttons),))


def parked_notice(state: ThoughtDraft) -> str:
    """Said when another command interrupts: the draft stays, here is the way back."""
    return _msg("parked", step=state.step_number, total=total_steps())


def handle(state: ThoughtDraft, event: Event, new_id: Callable[[], str]) -> Outcome:
    """Feeds one event to the draft. Never raises for any input."""
    if isinstance(event, Choice):
        code = _own_code(state, event.data)
        if code is None:
            return Outcome(state, (), expired=True)
        return _on_choice(state, code, new_id)
    if state.mode == "confirm_cancel":
        return _in_confirm(state, event)
    if state.mode == "resume":
        return _in_resume(state, event, new_id)
    if isinstance(event, Command):
        return _on_command(state, event)
    if isinstance(event, NonText):
        return Outcome(state, (_reask(state, _msg("non_text")),))
    return _on_text(state, event.text)


def belongs(data: str) -> bool:
    return data.startswith(PREFIX + ":")


# ── buttons ────────────────────────────────────────────────────────────────────


def _button(state: ThoughtDraft, label_key: str, code: str) -> Button:
    return Button(_label(label_key), f"{PREFIX}:{state.id}:{state.position}:{code}")


def _raw_button(state: ThoughtDraft, label: str, code: str) -> Button:
    return Button(label, f"{PREFIX}:{state.id}:{state.position}:{code}")


def _own_code(state: ThoughtDraft, data: str) -> str | None:
    """The button's code if it was made for this draft at this position, else None."""
    parts = data.split(":", 3)
    if len(parts) != 4 or parts[0] != PREFIX:
        return None
    _, draft_id, position, code = parts
    if draft_id != state.id or position != state.position:
        return None
    return code


def _nav_row(state: ThoughtDraft) -> tuple[Button, ...]:
    buttons = [_button(state, "example", "ex")]
    if state.step != "situation":
        buttons.append(_button(state, "back", "bk"))
    buttons.append(_button(state, "cancel", "cx"))
    return tuple(buttons)


def _intensity_buttons(state: ThoughtDraft) -> list[Button]:
    return [_raw_button(state, str(n), f"i:{n}") for n in INTENSITIES]


def _step_buttons(state: ThoughtDraft) -> tuple[tuple[Button, ...], ...]:
    """Buttons that belong under this step's question (not the navigation row)."""
    extra: list[tuple[Button, ...]] = []
    if state.step == "emotions":
        if state.pending is not None:
            return rows(_intensity_buttons(state), 6)
        names = _content()["emotion_buttons"]
        emotion_rows = rows([_raw_button(state, n, f"e:{i}") for i, n in enumerate(names)], 3)
        extra.extend(emotion_rows)
        if state.emotions:
            extra.append((_button(state, "done", "dn"), _button(state, "clear", "cl")))
        return tuple(extra)
    if state.step == "traps":
        traps = _content()["traps"]
        toggles = [
            _raw_button(state, ("✓ " if t["key"] in state.traps else "") + t["name"], f"t:{i}")
            for i, t in enumerate(traps)
        ]
        extra.extend(rows(toggles, 2))
        extra.append((_button(state, "done", "dn"), _button(state, "skip", "sk")))
        return tuple(extra)
    if state.step == "belief":
        extra.extend(rows(_intensity_buttons(state), 6))
        extra.append((_button(state, "skip", "sk"),))
    elif state.step == "rerate":
        extra.extend(rows(_intensity_buttons(state), 6))
    if _current_answer(state) is not None:
        extra.append((_button(state, "keep", "kp"),))
    return tuple(extra)


def _all_buttons(state: ThoughtDraft) -> tuple[tuple[Button, ...], ...]:
    return (*_step_buttons(state), _nav_row(state))


# ── prompts ────────────────────────────────────────────────────────────────────


def _hot(state: ThoughtDraft) -> str:
    return shorten(state.hot_thought or "", QUOTE)


def _question(state: ThoughtDraft) -> str:
    steps = _content()["steps"]
    if state.step == "emotions" and state.pending is not None:
        return str(steps["emotions"]["intensity"]).format(emotion=state.pending)
    if state.step == "emotions" and state.emotions:
        return str(steps["emotions"]["more"]).format(emotions=format_emotions(state.emotions))
    if state.step == "rerate":
        emotion = state.emotions[state.index]
        return str(steps["rerate"]["prompt"]).format(
            hot=_hot(state), emotion=emotion.name.capitalize(), before=emotion.before
        )
    if state.step == "traps":
        lines = [str(steps["traps"]["prompt"]).format(hot=_hot(state)), ""]
        for i, t in enumerate(_content()["traps"], start=1):
            mark = "✓ " if t["key"] in state.traps else ""
            lines.append(f"{i}. {mark}{t['name']} — {t['explain']}")
        return "\n".join(lines)
    return str(steps[state.step]["prompt"]).format(hot=_hot(state))


def _current_answer(state: ThoughtDraft) -> str | None:
    """The earlier answer to this step, as text, when there is one to keep."""
    if state.step in TEXT_STEPS:
        return getattr(state, TEXT_STEPS[state.step])
    if state.step == "belief" and state.belief_answered:
        return str(state.belief) if state.belief is not None else "skipped"
    if state.step == "rerate":
        after = state.emotions[state.index].after
        return None if after is None else str(after)
    return None


def _prompt(state: ThoughtDraft, lead: str | None = None) -> Reply:
    header = _msg("step_header", step=state.step_number, total=total_steps())
    parts = [lead] if lead else []
    parts.append(f"{header}\n{_question(state)}")
    earlier = _current_answer(state)
    if earlier is not None and state.step in TEXT_STEPS:
        parts.append(_msg("earlier_answer", answer=_clip(earlier, 2500)))
    elif earlier is not None:
        parts.append(_msg("earlier_rating", answer=earlier))
    return Reply("\n\n".join(parts), _all_buttons(state))


def _reask(state: ThoughtDraft, text: str) -> Reply:
    return Reply(text, _all_buttons(state))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ── moving between positions ───────────────────────────────────────────────────


def _next(state: ThoughtDraft) -> Outcome:
    """Advances one position, or finishes the record after the last re-rating."""
    updates: dict[str, Any] = {"pending": None}
    if state.step == "rerate":
        if state.index + 1 < len(state.emotions):
            updates["index"] = state.index + 1
        else:
            return _finish(state)
    elif state.step == "belief":
        updates.update(step="rerate", index=0)
    else:
        updates["step"] = STEPS[STEPS.index(state.step) + 1]
    moved = state.model_copy(update=updates)
    return Outcome(moved, (_prompt(moved),))


def _back(state: ThoughtDraft) -> Outcome:
    if state.step == "emotions" and state.pending is not None:
        moved = state.model_copy(update={"pending": None})
        return Outcome(moved, (_prompt(moved),))
    if state.step == "situation":
        return Outcome(state, (_reask(state, _msg("no_back")),))
    if state.step == "rerate" and state.index > 0:
        moved = state.model_copy(update={"index": state.index - 1})
    elif state.step == "rerate":
        moved = state.model_copy(update={"step": "belief", "index": 0})
    else:
        moved = state.model_copy(update={"step": STEPS[STEPS.index(state.step) - 1], "index": 0})
    return Outcome(moved, (_prompt(moved),))


def _finish(state: ThoughtDraft) -> Outcome:
    answers = state.answers()
    content = _content()["summary"]
    card = f"{content['header']}\n\n{format_record(answers, short=True)}\n\n{content['footer']}"
    return Outcome(None, (Reply(card),), saved=answers)


def has_answers(state: ThoughtDraft) -> bool:
    return any(
        [state.situation, state.emotions, state.hot_thought, state.pending, state.evidence_for]
    )


def _cancel(state: ThoughtDraft) -> Outcome:
    if not has_answers(state):
        return Outcome(None, (Reply(_msg("cancelled_empty")),))
    confirming = state.model_copy(update={"mode": "confirm_cancel"})
    buttons = (
        (_button(confirming, "confirm_cancel", "y"), _button(confirming, "keep_going", "n")),
    )
    return Outcome(confirming, (Reply(_msg("cancel_confirm"), buttons),))


def _example(state: ThoughtDraft) -> Outcome:
    """Shows this step of one worked example; asking again on the same step shows the next."""
    examples = _content()["examples"]
    index = state.example
    if state.example_at == state.position:
        index = (index + 1) % len(examples)
    moved = state.model_copy(update={"example": index, "example_at": state.position})
    ex = examples[index]
    header = _msg("example_header", name=ex["name"])
    return Outcome(moved, (Reply(f"{header}\n{_example_text(state, ex)}", _all_buttons(moved)),))


def _example_text(state: ThoughtDraft, ex: dict[str, Any]) -> str:
    hot = f'Hot thought: "{ex["hot_thought"]}"\n'
    emotions = [Emotion(name=n, before=v, after=ex["rerate"].get(n)) for n, v in ex["emotions"]]
    names = {t["key"]: t["name"] for t in _content()["traps"]}
    match state.step:
        case "situation":
            return f"Situation: {ex['situation']}"
        case "emotions":
            return f"Emotions: {format_emotions(emotions, with_after=False)}"
        case "hot_thought":
            return f"Situation: {ex['situation']}\nHot thought: {ex['hot_thought']}"
        case "evidence_for":
            return f"{hot}Evidence for: {ex['evidence_for']}"
        case "evidence_against":
            return f"{hot}Evidence against: {ex['evidence_against']}"
        case "traps":
            return f"{hot}Thinking traps: {', '.join(names[k] for k in ex['traps'])}"
        case "balanced":
            return f"{hot}Balanced thought: {ex['balanced_thought']}"
        case "belief":
            return f'Balanced thought: "{ex["balanced_thought"]}" — believed {ex["belief"]}/100'
        case _:
            return f"{hot}Re-rated: {format_emotions(emotions)}"


# ── events ─────────────────────────────────────────────────────────────────────


def _on_command(state: ThoughtDraft, event: Command) -> Outcome:
    if event.name == "back":
        return _back(state)
    if event.name == "cancel":
        return _cancel(state)
    return _example(state)


def _in_confirm(state: ThoughtDraft, event: Event) -> Outcome:
    answering = state.model_copy(update={"mode": "answer"})
    if isinstance(event, Text) and is_yes(event.text):
        return Outcome(None, (Reply(_msg("cancelled")),))
    if isinstance(event, Text) and is_no(event.text):
        return Outcome(answering, (_prompt(answering, _msg("not_cancelled")),))
    if isinstance(event, Command):
        return _on_command(answering, event)
    buttons = ((_button(state, "confirm_cancel", "y"), _button(state, "keep_going", "n")),)
    return Outcome(state, (Reply(_msg("choose_yes_no"), buttons),))


def _in_resume(state: ThoughtDraft, event: Event, new_id: Callable[[], str]) -> Outcome:
    answering = state.model_copy(update={"mode": "answer"})
    if isinstance(event, Text) and (is_yes(event.text) or normalise(event.text) == "continue"):
        return _resume(answering)
    if isinstance(event, Text) and normalise(event.text) in {"new", "start over", "start again"}:
        return start(new_id())
    if isinstance(event, Command):
        return _on_command(answering, event)
    buttons = ((_button(state, "continue", "go"), _button(state, "start_over", "new")),)
    return Outcome(state, (Reply(_msg("choose_continue"), buttons),))


def _resume(state: ThoughtDraft) -> Outcome:
    reached = STEPS.index(state.step)
    shown = {*STEPS[:reached], "situation"}
    recap = format_record(state.answers(), short=True, only=_fields(shown, state))
    return Outcome(state, (Reply(f"{_msg('resumed')}\n\n{recap}"), _prompt(state)))


def _fields(steps: set[str], state: ThoughtDraft) -> set[str]:
    """Record fields answered on the steps already passed: a recap shows only those."""
    names = {TEXT_STEPS.get(step, step) for step in steps}
    if not state.traps_answered:
        names.discard("traps")
    if not state.belief_answered:
        names.discard("belief")
    return names


def _on_choice(state: ThoughtDraft, code: str, new_id: Callable[[], str]) -> Outcome:
    expired = Outcome(state, (), expired=True)
    if state.mode == "confirm_cancel":
        if code == "y":
            return Outcome(None, (Reply(_msg("cancelled")),))
        if code == "n":
            answering = state.model_copy(update={"mode": "answer"})
            return Outcome(answering, (_prompt(answering, _msg("not_cancelled")),))
        return expired
    if state.mode == "resume":
        if code == "go":
            return _resume(state.model_copy(update={"mode": "answer"}))
        if code == "new":
            return start(new_id())
        return expired
    if code in ("ex", "bk", "cx"):
        return _on_command(state, Command({"ex": "example", "bk": "back", "cx": "cancel"}[code]))
    if code == "kp":
        return _next(state) if _current_answer(state) is not None else expired
    kind, _, arg = code.partition(":")
    match state.step, kind:
        case "emotions", _:
            return _emotion_choice(state, kind, arg) or expired
        case "traps", "t" | "dn" | "sk":
            return _trap_choice(state, kind, arg) or expired
        case "belief", "sk":
            return _next(state.model_copy(update={"belief": None, "belief_answered": True}))
        case "belief" | "rerate", "i" if arg.isdecimal() and int(arg) in INTENSITIES:
            return _set_rating(state, int(arg))
    return expired


def _emotion_choice(state: ThoughtDraft, kind: str, arg: str) -> Outcome | None:
    names = _content()["emotion_buttons"]
    if kind == "e" and arg.isdecimal() and int(arg) < len(names):
        moved = state.model_copy(update={"pending": names[int(arg)]})
        return Outcome(moved, (_prompt(moved),))
    if kind == "i" and state.pending is not None and arg.isdecimal() and int(arg) in INTENSITIES:
        return _add_emotions(state, [(state.pending, int(arg))], advance=False)
    if kind == "dn" and state.emotions and state.pending is None:
        return _next(state)
    if kind == "cl" and state.emotions:
        moved = state.model_copy(update={"emotions": [], "pending": None})
        return Outcome(moved, (_prompt(moved),))
    return None


def _trap_choice(state: ThoughtDraft, kind: str, arg: str) -> Outcome | None:
    traps = _content()["traps"]
    if kind == "t" and arg.isdecimal() and int(arg) < len(traps):
        key = traps[int(arg)]["key"]
        chosen = [k for k in state.traps if k != key] if key in state.traps else [*state.traps, key]
        moved = state.model_copy(update={"traps": chosen})
        return Outcome(moved, (Reply(_question(moved), _all_buttons(moved), replace=True),))
    if kind == "dn":
        return _next(state.model_copy(update={"traps_answered": True}))
    if kind == "sk":
        return _next(state.model_copy(update={"traps": [], "traps_answered": True}))
    return None


def _set_rating(state: ThoughtDraft, value: int) -> Outcome:
    if state.step == "belief":
        return _next(state.model_copy(update={"belief": value, "belief_answered": True}))
    emotions = list(state.emotions)
    emotions[state.index] = emotions[state.index].model_copy(update={"after": value})
    return _next(state.model_copy(update={"emotions": emotions}))


def _add_emotions(state: ThoughtDraft, found: list[tuple[str, int]], *, advance: bool) -> Outcome:
    """Merges by name: a name typed again updates its intensity, and re-ratings survive."""
    emotions = list(state.emotions)
    for name, value in found:
        same = [i for i, e in enumerate(emotions) if e.name == name]
        if same:
            emotions[same[0]] = emotions[same[0]].model_copy(update={"before": value})
        else:
            emotions.append(Emotion(name=name, before=value))
    lead = None
    if len(emotions) > MAX_EMOTIONS:
        emotions = sorted(emotions, key=lambda e: -e.before)[:MAX_EMOTIONS]
        lead = _msg("too_many_emotions", max=MAX_EMOTIONS)
    moved = state.model_copy(update={"emotions": emotions, "pending": None})
    if advance:
        outcome = _next(moved)
        if lead and outcome.state is not None:
            return Outcome(outcome.state, (Reply(lead), *outcome.replies))
        return outcome
    return Outcome(moved, (_prompt(moved, lead),))


def _on_text(state: ThoughtDraft, raw: str) -> Outcome:
    text = raw.strip()
    if not text:
        return Outcome(state, (_reask(state, _msg("empty_answer")),))
    if len(text) > MAX_ANSWER:
        return Outcome(state, (_reask(state, _msg("too_long", limit=MAX_ANSWER)),))
    if state.step in TEXT_STEPS:
        return _next(state.model_copy(update={TEXT_STEPS[state.step]: text}))
    if state.step == "emotions":
        return _emotions_text(state, text)
    if state.step == "traps":
        return _traps_text(state, text)
    if state.step == "belief" and is_skip(text):
        return _next(state.model_copy(update={"belief": None, "belief_answered": True}))
    return _rating_text(state, text)


def _rating_text(state: ThoughtDraft, text: str) -> Outcome:
    value = parse_intensity(text)
    if isinstance(value, IntensityError):
        return Outcome(state, (_reask(state, _msg("bad_intensity")),))
    return _set_rating(state, value)


def _emotions_text(state: ThoughtDraft, text: str) -> Outcome:
    if state.pending is not None:
        value = parse_intensity(text)
        if not isinstance(value, IntensityError):
            return _add_emotions(state, [(state.pending, value)], advance=False)
        typed = parse_emotions(text)
        if not typed.found or typed.error is not None:  # "abc", "150": not a fresh list either
            return Outcome(state, (_reask(state, _msg("bad_intensity")),))
    word = normalise(text).strip(".!")
    if state.emotions and state.pending is None and word == "done":
        return _next(state)
    if not state.emotions and (word == "done" or is_skip(text)):
        return Outcome(state, (_reask(state, _msg("need_emotion")),))
    parsed = parse_emotions(text)
    if parsed.error is not None:
        message = _msg(parsed.error, emotion=parsed.error_name, text=parsed.error_name)
        unpended = state.model_copy(update={"pending": None})
        return Outcome(unpended, (_reask(unpended, message),))
    if parsed.missing is not None:
        moved = state.model_copy(update={"pending": parsed.missing})
        return Outcome(moved, (_prompt(moved),))
    return _add_emotions(state, list(parsed.found), advance=True)


def _traps_text(state: ThoughtDraft, text: str) -> Outcome:
    if is_skip(text):
        return _next(state.model_copy(update={"traps": [], "traps_answered": True}))
    if normalise(text).strip(".!") == "done":
        return _next(state.model_copy(update={"traps_answered": True}))
    options = [(t["key"], t["name"]) for t in _content()["traps"]]
    chosen = parse_choices(text, options)
    if chosen is None:
        return Outcome(state, (_reask(state, _msg("bad_traps")),))
    return _next(state.model_copy(update={"traps": chosen, "traps_answered": True}))


# ── invariants (checked by property tests, and on every load) ─────────────────


def check(state: ThoughtDraft) -> list[str]:
    """Lists broken invariants; an empty list means the draft is coherent."""
    problems = []
    reached = STEPS.index(state.step)
    for i, step in enumerate(STEPS[:reached]):
        if step in TEXT_STEPS and not getattr(state, TEXT_STEPS[step]):
            problems.append(f"{step} passed without an answer")
        if step == "emotions" and i < reached and not state.emotions:
            problems.append("emotions passed without any")
    if state.step == "rerate" and not state.index < len(state.emotions):
        problems.append("re-rating an emotion that does not exist")
    if state.step != "rerate" and state.index != 0:
        problems.append("index set outside re-rating")
    if state.pending is not None and state.step != "emotions":
        problems.append("pending emotion outside the emotions step")
    if len(state.emotions) > MAX_EMOTIONS:
        problems.append("too many emotions")
    if len({e.name for e in state.emotions}) != len(state.emotions):
        problems.append("duplicate emotion names")
    known = {t["key"] for t in _content()["traps"]}
    if not set(state.traps) <= known:
        problems.append("unknown thinking trap")
    return problems


def prompt_again(state: ThoughtDraft, lead: str | None = None) -> Outcome:
    """The current question, re-asked (after an expired button, say), ready for an answer."""
    answering = state.model_copy(update={"mode": "answer"})
    return Outcome(answering, (_prompt(answering, lead),))
