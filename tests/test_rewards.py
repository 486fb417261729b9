"""Rewards score one answer at a time, 0 or 1, after the spec's normalisations."""

import pytest

from opro_cli.scoring.rewards import Scorer, normalize
from opro_cli.spec import ExactMatchReward, RegexReward


def test_normalisations_apply_in_order():
    steps = ["strip", "lowercase", "collapse_whitespace", "strip_punctuation"]
    assert normalize("  Hello,   World!  ", steps) == "hello, world"
    assert normalize('"yes"', ["strip_quotes"]) == "yes"


@pytest.mark.parametrize(
    ("answer", "expected", "reward"),
    [("Positive.", "positive", 1.0), (" positive ", "positive", 1.0), ("negative", "positive", 0.0),
     ("I think positive", "positive", 0.0), (None, "positive", 0.0)],
)
def test_exact_match(answer, expected, reward):
    assert Scorer(ExactMatchReward(type="exact_match"))(answer, expected) == reward


def test_exact_match_without_normalisation_is_strict():
    score = Scorer(ExactMatchReward(type="exact_match", normalize=[]))
    assert score("Positive", "positive") == 0.0 and score("positive", "positive") == 1.0


def test_regex_match_substitutes_the_escaped_expected_value():
    score = Scorer(RegexReward(type="regex", pattern=r"\b{expected}\b"))
    assert score("The answer is 3.5 dollars", "3.5") == 1.0
    assert score("The answer is 305 dollars", "3.5") == 0.0  # the dot is escaped
    assert score("it is POSITIVE", "positive") == 1.0  # ignore_case by default


def test_regex_extracts_a_group_and_compares_it():
    score = Scorer(RegexReward(type="regex", pattern=r"^\W*(\w+)", group=1, normalize=["lowercase"]))
    assert score("Sports - a match report", "sports") == 1.0
    assert score("It is about sports", "sports") == 0.0
    assert score("", "sports") == 0.0


def test_regex_named_group():
    score = Scorer(RegexReward(type="regex", pattern=r"answer: (?P<value>-?\d+)", group="value"))
    assert score("so the answer: 42", "42") == 1.0
