"""Recognising crisis language, wherever it is written. Errs on the side of responding."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache

from flows.content import load

_REPEATS = re.compile(r"(\w)\1{2,}")
_BREAKS = re.compile(r"[,;:!?]+")
_NOT_WORDS = re.compile(r"[^\w'\s.]+")
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Lower case, accents and emoji gone, "’" as "'", "sooo" as "so", single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'").replace("‘", "'"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    plain = _BREAKS.sub(" . ", plain.replace("_", " "))
    plain = _NOT_WORDS.sub(" ", plain)
    plain = _REPEATS.sub(r"\1", plain)
    return _SPACES.sub(" ", plain).strip()


@cache
def _patterns() -> tuple[str, ...]:
    groups = load("safety")["patterns"]
    return tuple(p for patterns in groups.values() for p in patterns)


class Detector:
    """The content file's patterns plus the operator's own phrases (matched as whole words),
    joined into one expression: every message is checked, so one pass over it, not dozens."""

    def __init__(self, extra_phrases: Iterable[str] = ()) -> None:
        extra = [normalise(p) for p in extra_phrases if normalise(p)]
        alternatives = [*_patterns(), *(rf"\b{re.escape(p)}\b" for p in extra)]
        self._any = re.compile("|".join(f"(?:{p})" for p in alternatives))

    def is_crisis(self, text: str | None) -> bool:
        if not text:
            return False
        plain = normalise(text)
        if self._any.search(plain):
            return True
        # "kill my self": also try with the space inside the word closed up
        closed = plain.replace(" my self", " myself")
        return closed != plain and self._any.search(closed) is not None


def crisis_reply(resources: str | None = None) -> str:
    content = load("safety")
    return str(content["reply"]).format(resources=(resources or content["resources"]).strip())
