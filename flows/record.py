"""A thought record's answers, and how they read back to the person who wrote them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from flows.content import load
from flows.replies import shorten


class Emotion(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    before: int = Field(ge=0, le=100)
    after: int | None = Field(default=None, ge=0, le=100)


class RecordAnswers(BaseModel):
    """Every answer a record can hold; a draft has some, a finished record has the required ones."""

    situation: str | None = None
    emotions: list[Emotion] = Field(default_factory=list)
    hot_thought: str | None = None
    evidence_for: str | None = None
    evidence_against: str | None = None
    traps: list[str] = Field(default_factory=list)
    balanced_thought: str | None = None
    belief: int | None = Field(default=None, ge=0, le=100)


def trap_names() -> dict[str, str]:
    return {t["key"]: t["name"] for t in load("thought_record")["traps"]}


def format_emotions(emotions: list[Emotion], *, with_after: bool = True) -> str:
    """`sad 80 → 45 (−35)` when re-rated, `sad 80` before that."""
    parts = []
    for e in emotions:
        if with_after and e.after is not None:
            delta = e.after - e.before
            sign = "−" if delta < 0 else "+" if delta > 0 else "±"
            parts.append(f"{e.name} {e.before} → {e.after} ({sign}{abs(delta)})")
        else:
            parts.append(f"{e.name} {e.before}")
    return ", ".join(parts)


def format_record(
    answers: RecordAnswers,
    *,
    short: bool,
    when: datetime | None = None,
    only: set[str] | None = None,
) -> str:
    """The record as a card: `short` quotes each answer briefly, otherwise whole.
    `only` limits it to some fields (a recap of an unfinished record)."""

    def text(value: str | None) -> str:
        if value is None:
            return "—"
        return shorten(value, 160) if short else value

    names = trap_names()
    traps = ", ".join(names.get(k, k) for k in answers.traps) or "none chosen"
    belief = f" (believed {answers.belief}/100)" if answers.belief is not None else ""
    fields = [
        ("situation", f"📍 Situation: {text(answers.situation)}"),
        ("emotions", f"💭 Emotions: {format_emotions(answers.emotions) or '—'}"),
        ("hot_thought", f"🔥 Hot thought: {text(answers.hot_thought)}"),
        ("evidence_for", f"➕ Evidence for: {text(answers.evidence_for)}"),
        ("evidence_against", f"➖ Evidence against: {text(answers.evidence_against)}"),
        ("traps", f"🪤 Thinking traps: {traps}"),
        ("balanced_thought", f"⚖️ Balanced thought: {text(answers.balanced_thought)}{belief}"),
    ]
    lines = []
    if when is not None:
        lines += [f"Thought record — {when:%a %d %b %Y, %H:%M}", ""]
    lines += [line for key, line in fields if only is None or key in only]
    return "\n".join(lines)
