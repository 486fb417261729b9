"""Every reward says why an answer fell short (issue 35): the reason is what `eval` writes beside each example
and what the optimizer model reads of the incumbent's failures, so it must name what was expected and got."""

import json
from pathlib import Path

import pytest

from opro_cli.data import Example
from opro_cli.errors import UserCodeError
from opro_cli.scoring.rewards import Scorer
from opro_cli.spec import (
    ContainsReward,
    ExactMatchReward,
    F1Reward,
    FieldsReward,
    NumericReward,
    PythonReward,
    RegexReward,
)


def test_full_credit_has_no_reason():
    assert Scorer(ExactMatchReward(type="exact_match")).verdict("Oslo.", "oslo").reason is None


@pytest.mark.parametrize("reward", [ExactMatchReward(type="exact_match"), ContainsReward(type="contains")])
def test_exact_and_contains_say_what_was_expected_and_got(reward):
    assert Scorer(reward).verdict("Lisbon", "Oslo").reason == "expected 'Oslo', got 'Lisbon'"


def test_an_unreadable_answer_says_so():
    verdict = Scorer(ExactMatchReward(type="exact_match")).verdict(None, "Oslo")
    assert verdict.score == 0 and verdict.reason == "no answer could be read"


def test_regex_names_the_pattern_or_what_its_group_captured():
    plain = Scorer(RegexReward(type="regex", pattern=r"\b{expected}\b")).verdict("Rome", "Oslo")
    assert plain.reason == r"no match for \boslo\b in 'Rome'"
    group = Scorer(RegexReward(type="regex", pattern=r"answer: (\w+)", group=1))
    assert group.verdict("answer: Rome", "Oslo").reason == "expected 'Oslo', captured 'Rome'"
    assert group.verdict("Rome", "Oslo").reason == r"no match for answer: (\w+) in 'Rome'"


def test_numeric_gives_both_numbers_and_the_tolerance():
    score = Scorer(NumericReward(type="numeric", abs_tol=0.01))
    assert score.verdict("It is 4.", "3.5").reason == "expected 3.5, got 4 (abs_tol 0.01)"
    assert score.verdict("no idea", "3.5").reason == "expected 3.5, no number in 'no idea'"
    assert Scorer(NumericReward(type="numeric")).verdict("4", "3").reason == "expected 3, got 4"


def test_f1_lists_the_missing_and_extra_words():
    verdict = Scorer(F1Reward(type="f1")).verdict("the city of Paris", "Paris France")
    assert verdict.score == pytest.approx(1 / 3)
    assert verdict.reason == "missing: france; extra: the city of"


def test_fields_give_each_failing_fields_reason():
    expected = json.dumps({"person": "Anna", "nights": "3", "city": "Paris"})
    answer = json.dumps({"person": "Ben", "city": "Paris"})
    verdict = Scorer(FieldsReward(type="fields"), several=True).verdict(answer, expected)
    assert verdict.score == pytest.approx(1 / 3)
    assert verdict.reason == "person: expected 'Anna', got 'Ben'; nights: no answer could be read"


def python_reward(tmp_path: Path, body: str) -> PythonReward:
    path = tmp_path / "my_reward.py"
    path.write_text(body)
    return PythonReward(type="python", function=f"{path}:score")


def example() -> Example:
    return Example(7, {"request": "x"}, "", {}, Path("/data/test.jsonl"))


@pytest.mark.parametrize("returned", ["(0.5, 'too long')", "{'score': 0.5, 'reason': 'too long'}"])
def test_python_reward_may_return_its_reason(tmp_path, returned):
    reward = python_reward(tmp_path, f"def score(answer, expected, example):\n    return {returned}\n")
    verdict = Scorer(reward).verdict("a", "b", example())
    assert (verdict.score, verdict.reason) == (0.5, "too long")


def test_python_reward_a_bare_number_still_works_and_a_bad_pair_stops(tmp_path):
    assert Scorer(python_reward(tmp_path, "def score(a, e, x):\n    return 0.25\n")).verdict("a", "b", example()) \
        .reason is None
    (tmp_path / "bad").mkdir()
    reward = python_reward(tmp_path / "bad", "def score(a, e, x):\n    return (2, 'why')\n")
    with pytest.raises(UserCodeError, match=r"\(score, reason\)"):
        Scorer(reward)("a", "b", example())
