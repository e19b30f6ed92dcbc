"""Crisis language: every phrasing in the labelled corpus is recognised; lookalikes mostly not."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flows.safety import Detector, crisis_reply, normalise

CORPUS = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "data" / "crisis_corpus.yaml").read_text("utf-8")
)
DETECTOR = Detector()


def test_the_corpus_is_big_enough_and_clean():
    assert len(CORPUS["crisis"]) >= 80 and len(CORPUS["ordinary"]) >= 80
    lowered = [t.lower() for t in CORPUS["crisis"] + CORPUS["ordinary"]]
    assert len(set(lowered)) == len(lowered)


@pytest.mark.parametrize("text", CORPUS["crisis"])
def test_every_crisis_phrasing_gets_the_safety_reply(text):
    assert DETECTOR.is_crisis(text)


def test_false_positives_on_lookalikes_stay_rare():
    flagged = [t for t in CORPUS["ordinary"] if DETECTOR.is_crisis(t)]
    rate = len(flagged) / len(CORPUS["ordinary"])
    print(f"false positives: {len(flagged)}/{len(CORPUS['ordinary'])} = {rate:.1%}")
    assert rate <= 0.05, flagged


@pytest.mark.parametrize(
    "text",
    ["I WANT TO DIE", "i want to dieeee", "I want to die 😭", "thinking about suïcide"],
)
def test_case_emoji_repeats_and_accents_do_not_hide_it(text):
    assert DETECTOR.is_crisis(text)


def test_normalise():
    assert normalise("I’m SOOO tired… 😭") == "i'm so tired..."
    assert normalise("can't go on, really") == "can't go on . really"


def test_operators_can_add_phrases():
    extra = Detector(["thinking of the bridge", "Red Flag Phrase"])
    assert extra.is_crisis("Lately I keep thinking of the bridge")
    assert extra.is_crisis("red flag phrase")
    assert not DETECTOR.is_crisis("Lately I keep thinking of the bridge")
    assert not extra.is_crisis("flag phrases")


def test_the_reply_names_resources_and_says_it_is_not_an_emergency_service():
    text = crisis_reply()
    assert "not an emergency service" in text and "116 123" in text and "988" in text
    custom = crisis_reply("• Clinic duty line: 0100 000 000")
    assert "Clinic duty line" in custom and "116 123" not in custom
    assert "/thought" in text  # how to come back when ready


def test_empty_and_missing_text():
    assert not DETECTOR.is_crisis("") and not DETECTOR.is_crisis(None)
