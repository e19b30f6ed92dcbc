"""Reading what people type (emotions, ratings, choices, yes/no) and where they are."""

from __future__ import annotations

import pytest

from flows.parsing import (
    EmotionsParse,
    IntensityError,
    is_no,
    is_skip,
    is_yes,
    normalise,
    parse_choices,
    parse_emotions,
    parse_intensity,
)
from flows.timezones import from_location, is_valid, resolve

# ── intensities ────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("70", 70),
        ("70%", 70),
        (" 70 % ", 70),
        ("0", 0),
        ("100", 100),
        ("100%", 100),
        ("33.3", 33),
        ("66,7", 67),
        ("٧٠", 70),  # Arabic-Indic digits
        ("007", 7),
    ],
)
def test_parse_intensity_accepts_numbers_from_0_to_100(typed, value):
    assert parse_intensity(typed) == value


@pytest.mark.parametrize("typed", ["abc", "", "   ", "seventy", "70 80", "70%%", "1e2", "%"])
def test_parse_intensity_refuses_what_is_not_a_number(typed):
    assert parse_intensity(typed) == IntensityError("not_number")


@pytest.mark.parametrize("typed", ["150", "-5", "−5", "– 5", "101", "100.6", "99999999999"])
def test_parse_intensity_refuses_numbers_out_of_range(typed):
    assert parse_intensity(typed) == IntensityError("out_of_range")


# ── emotion lists ──────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("frustrated 80, ashamed 60", (("frustrated", 80), ("ashamed", 60))),
        ("sad 70%", (("sad", 70),)),
        ("80 angry", (("angry", 80),)),
        ("Sad: 70", (("sad", 70),)),
        ("sad=70", (("sad", 70),)),
        ("sad 70 and angry 30", (("sad", 70), ("angry", 30))),
        ("sad 70; angry 30\nhurt 20", (("sad", 70), ("angry", 30), ("hurt", 20))),
        ("sad 70 & angry 30 + hurt 5", (("sad", 70), ("angry", 30), ("hurt", 5))),
        ("  Really   SAD  40 ", (("really sad", 40),)),
        ("self-pity 40", (("self-pity", 40),)),
        ("грусть 70, тревога 50", (("грусть", 70), ("тревога", 50))),
        ("Грусть 70%", (("грусть", 70),)),
        ("עצב 60", (("עצב", 60),)),
        ("悲しい 60", (("悲しい", 60),)),
        ("sad 0", (("sad", 0),)),
        ("sad 100", (("sad", 100),)),
    ],
)
def test_parse_emotions_reads_names_with_intensities(typed, found):
    assert parse_emotions(typed) == EmotionsParse(found=found)


@pytest.mark.parametrize(
    ("typed", "name"), [("sad", "sad"), ("Тоска", "тоска"), (" Hurt. ", "hurt")]
)
def test_parse_emotions_asks_for_the_intensity_of_a_lone_name(typed, name):
    assert parse_emotions(typed) == EmotionsParse(missing=name)


@pytest.mark.parametrize("typed", ["", "   ", ",", ", ;", "70", "70, 80", "-"])
def test_parse_emotions_needs_an_emotion(typed):
    assert parse_emotions(typed).error == "need_emotion"
    assert parse_emotions(typed).found == ()


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("sad 150", "sad"),
        ("sad -5", "sad"),
        ("sad 70 80", "sad"),
        ("sad, angry", "sad"),  # two names without numbers
        ("sad, angry 50", "sad"),  # one with, one without: ask rather than guess
        ("angry 50, sad", "sad"),
        ("sad 7 0", "sad"),
    ],
)
def test_parse_emotions_refuses_bad_or_missing_intensities(typed, name):
    result = parse_emotions(typed)
    assert result.error == "bad_intensity_for"
    assert result.error_name == name
    assert result.found == ()


@pytest.mark.parametrize(
    "typed",
    ["😢 70", "sad!!! 70", "a b c d e 70", "x" * 41 + " 70", "sad 70, 😢 50", "<b>sad</b> 70"],
)
def test_parse_emotions_refuses_what_is_not_a_name(typed):
    result = parse_emotions(typed)
    assert result.error == "bad_emotion_name"
    assert result.error_name
    assert len(result.error_name) <= 60
    assert result.found == ()


# ── choices (thinking traps) ───────────────────────────────────────────────────

OPTIONS = [
    ("all_or_nothing", "All-or-nothing"),
    ("overgeneralising", "Overgeneralising"),
    ("mental_filter", "Mental filter"),
    ("discounting_positive", "Discounting the positive"),
    ("mind_reading", "Mind reading"),
    ("mental_maths", "Mental maths"),
]


@pytest.mark.parametrize(
    ("typed", "keys"),
    [
        ("1, 4", ["all_or_nothing", "discounting_positive"]),
        ("1 4", ["all_or_nothing", "discounting_positive"]),
        ("4;1", ["discounting_positive", "all_or_nothing"]),
        ("2 and 5", ["overgeneralising", "mind_reading"]),
        ("1, 1, 1", ["all_or_nothing"]),
        ("mind reading", ["mind_reading"]),
        ("MIND READING.", ["mind_reading"]),
        ("mind_reading", ["mind_reading"]),
        ("All-or-nothing, mental filter", ["all_or_nothing", "mental_filter"]),
        ("overgen", ["overgeneralising"]),  # an unambiguous start of a name
        ("disc\n3", ["discounting_positive", "mental_filter"]),
    ],
)
def test_parse_choices_by_number_key_or_name(typed, keys):
    assert parse_choices(typed, OPTIONS) == keys


@pytest.mark.parametrize("typed", ["", "0", "7", "-1", "banana", "1, banana", "mental", "min"])
def test_parse_choices_refuses_what_it_does_not_recognise(typed):
    assert parse_choices(typed, OPTIONS) is None


# ── short words ────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("typed", ["skip", "Skip", "SKIP.", " skip! ", "none", "n/a", "-", "nope"])
def test_is_skip(typed):
    assert is_skip(typed)


@pytest.mark.parametrize("typed", ["skipping", "don't skip", "", "1", "done"])
def test_is_not_skip(typed):
    assert not is_skip(typed)


@pytest.mark.parametrize(
    "typed", ["yes", "Y", "Yes!", "ok", "okay", "sure", "yes, drop it", "Drop it"]
)
def test_is_yes(typed):
    assert is_yes(typed)
    assert not is_no(typed)


@pytest.mark.parametrize("typed", ["no", "N", "nope.", "keep", "keep going", "No, keep going"])
def test_is_no(typed):
    assert is_no(typed)
    assert not is_yes(typed)


@pytest.mark.parametrize("typed", ["maybe", "", "yess", "not sure"])
def test_neither_yes_nor_no(typed):
    assert not is_yes(typed)
    assert not is_no(typed)


def test_normalise_lowers_and_collapses_spaces():
    assert normalise("  Start   OVER\n") == "start over"
    assert normalise("Тоска  ЗЕЛЁНАЯ") == "тоска зелёная"


# ── time zones ─────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        ("America/New_York", "America/New_York"),
        ("Asia/Kolkata", "Asia/Kolkata"),
        ("UTC", "UTC"),
        ("utc", "UTC"),
        ("GMT", "UTC"),
    ],
)
def test_resolve_iana_names(typed, zone):
    assert resolve(typed) == zone


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Berlin", "Europe/Berlin"),
        ("  London  ", "Europe/London"),
        ("new york", "America/New_York"),
        ("New_York", "America/New_York"),
        ("Chicago.", "America/Chicago"),
        ("Leeds", "Europe/London"),
        ("Leeds, UK", "Europe/London"),
        ("São Paulo", "America/Sao_Paulo"),
        ("Sao Paulo", "America/Sao_Paulo"),
        ("Zürich", "Europe/Zurich"),
        ("Kraków", "Europe/Warsaw"),
        ("München", "Europe/Berlin"),
        ("Reykjavík", "Atlantic/Reykjavik"),
        ("Москва", "Europe/Moscow"),
        ("Ho Chi Minh", "Asia/Ho_Chi_Minh"),
    ],
)
def test_resolve_city_names(typed, zone):
    assert resolve(typed) == zone


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("UTC+2", "Etc/GMT-2"),
        ("utc + 2", "Etc/GMT-2"),
        ("GMT-5", "Etc/GMT+5"),
        ("UTC+10:00", "Etc/GMT-10"),
        ("UTC+14", "Etc/GMT-14"),
        ("UTC+0", "UTC"),
        ("UTC-0", "UTC"),
    ],
)
def test_resolve_utc_offsets_with_the_posix_sign(typed, zone):
    resolved = resolve(typed)
    assert resolved == zone
    assert is_valid(resolved)


@pytest.mark.parametrize(
    "typed", ["Qwxzyville", "", "   ", "?!", "UTC+15", "UTC+2:30", "x" * 100, "Europe/Nowhere"]
)
def test_resolve_unknown_is_none(typed):
    assert resolve(typed) is None


@pytest.mark.parametrize(
    ("latitude", "longitude", "zone"),
    [
        (51.5074, -0.1278, "Europe/London"),
        (40.7128, -74.0060, "America/New_York"),
        (-33.8688, 151.2093, "Australia/Sydney"),
        (52.52, 13.405, "Europe/Berlin"),
    ],
)
def test_from_location(latitude, longitude, zone):
    assert from_location(latitude, longitude) == zone


@pytest.mark.parametrize(("latitude", "longitude"), [(91, 0), (-91, 0), (0, 181), (0, -200)])
def test_from_location_out_of_range_is_none(latitude, longitude):
    assert from_location(latitude, longitude) is None


def test_is_valid():
    assert is_valid("Europe/London")
    assert not is_valid("Mars/Olympus_Mons")
    assert not is_valid("../etc/passwd")
