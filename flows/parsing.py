"""Reading what people type: forgiving about form, strict about meaning."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_ANSWER = 4096  # Telegram's own limit for one message; answers up to it are kept whole.
MAX_EMOTION_NAME = 40

_SPLIT = re.compile(r"[,;\n]+|\s+and\s+|\s*&\s*|\s*\+\s*")
_NUMBER = re.compile(r"(?<![\w.])([-−–]?\s*\d+(?:[.,]\d+)?)\s*%?(?![\w])")
_NAME_JUNK = " \t:=-–—.()[]\"'"
_WORDS = {"skip", "none", "no", "nothing", "pass", "n/a", "-", "nope"}
_YES = {"yes", "y", "yep", "yeah", "ok", "okay", "sure", "drop", "drop it", "yes, drop it"}
_NO = {"no", "n", "nope", "keep", "keep going", "no, keep going", "continue"}


@dataclass(frozen=True)
class IntensityError:
    """Why a number was refused: `kind` is "not_number" or "out_of_range"."""

    kind: str


MAX_ID = 2**31 - 1  # database ids are 32-bit integers; anything larger is forged


def parse_id(text: str) -> int | None:
    """A row id from button data: decimal digits only, within the database's range."""
    if not text.isdecimal() or len(text) > 10:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def normalise(text: str) -> str:
    """Lower-cased, single-spaced text for matching short command-like words."""
    return " ".join(text.lower().split())


def is_skip(text: str) -> bool:
    return normalise(text).strip(".!") in _WORDS


def is_yes(text: str) -> bool:
    return normalise(text).strip(".!") in _YES


def is_no(text: str) -> bool:
    return normalise(text).strip(".!") in _NO


def parse_intensity(text: str) -> int | IntensityError:
    """`70`, `70%`, ` 70 % ` → 70. Decimals round; anything else is refused with a reason."""
    match = re.fullmatch(r"\s*([-−–]?\s*\d+(?:[.,]\d+)?)\s*%?\s*", text)
    if not match:
        return IntensityError("not_number")
    return _to_intensity(match.group(1))


def _to_intensity(raw: str) -> int | IntensityError:
    cleaned = raw.replace(" ", "").replace("−", "-").replace("–", "-").replace(",", ".")
    value = float(cleaned)
    if not 0 <= value <= 100:
        return IntensityError("out_of_range")
    return round(value)


@dataclass(frozen=True)
class EmotionsParse:
    """Result of reading a typed emotion list.

    `found` holds complete (name, intensity) pairs. `missing` is a name typed without a
    number (asked for next). `error`/`error_name` explain a refusal; nothing is added then.
    """

    found: tuple[tuple[str, int], ...] = ()
    missing: str | None = None
    error: str | None = None
    error_name: str | None = None


def parse_emotions(text: str) -> EmotionsParse:
    """Reads `frustrated 80, ashamed 60`, `sad 70%`, `80 angry`, or a lone `sad`."""
    items = [item.strip() for item in _SPLIT.split(text) if item and item.strip()]
    if not items:
        return EmotionsParse(error="need_emotion")
    found: list[tuple[str, int]] = []
    missing: list[str] = []
    for item in items:
        numbers = _NUMBER.findall(item)
        name = _clean_name(_NUMBER.sub(" ", item))
        if not name:
            return EmotionsParse(error="need_emotion")
        if not _is_name(name):
            return EmotionsParse(error="bad_emotion_name", error_name=item[:60])
        if len(numbers) > 1:
            return EmotionsParse(error="bad_intensity_for", error_name=name)
        if not numbers:
            if re.search(r"\d", item):
                return EmotionsParse(error="bad_intensity_for", error_name=name)
            missing.append(name)
            continue
        value = _to_intensity(numbers[0])
        if isinstance(value, IntensityError):
            return EmotionsParse(error="bad_intensity_for", error_name=name)
        found.append((name, value))
    if len(missing) > 1 or (missing and found):
        return EmotionsParse(error="bad_intensity_for", error_name=missing[0])
    return EmotionsParse(found=tuple(found), missing=missing[0] if missing else None)


def _clean_name(raw: str) -> str:
    return " ".join(raw.strip(_NAME_JUNK).split()).lower()


def _is_name(name: str) -> bool:
    """An emotion is a word or a few, with at least one letter in any script."""
    return (
        len(name) <= MAX_EMOTION_NAME
        and len(name.split()) <= 4
        and any(ch.isalpha() for ch in name)
        and all(ch.isalpha() or ch in " -'’/" for ch in name)
    )


def parse_choices(text: str, options: list[tuple[str, str]]) -> list[str] | None:
    """Picks options by number (`1, 4`), key or name; None when something isn't recognised.

    `options` are (key, name) pairs in display order.
    """
    parts = [p for p in re.split(r"[,;\n]+|\s+and\s+|\s+(?=\d)", text) if p.strip()]
    chosen: list[str] = []
    for part in parts:
        word = normalise(part).strip(".!")
        key = _match_option(word, options)
        if key is None:
            return None
        if key not in chosen:
            chosen.append(key)
    return chosen or None


def _match_option(word: str, options: list[tuple[str, str]]) -> str | None:
    if word.isdecimal():
        index = int(word) - 1
        return options[index][0] if 0 <= index < len(options) else None
    for key, name in options:
        if word in (key, normalise(name), key.replace("_", " ")):
            return key
    prefixed = [key for key, name in options if normalise(name).startswith(word) and len(word) >= 4]
    return prefixed[0] if len(prefixed) == 1 else None
