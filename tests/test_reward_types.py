"""Every reward type scores chosen answers as the spec promises: normalisation where it makes sense, F1 values,
numeric tolerances as `math.isclose`, `contains` as whole words, `fields` with weights and a missing field, and
the user's own `python` function (a bool or a number in [0, 1], anything else stops the run)."""

import json
import math
from pathlib import Path

import pytest

from opro_cli.data import Example
from opro_cli.errors import UserCodeError
from opro_cli.scoring.answers import AnswerFormat
from opro_cli.scoring.fields import OutputField
from opro_cli.scoring.rewards import Scorer, token_f1
from opro_cli.spec import (
    ContainsReward,
    ExactMatchReward,
    F1Reward,
    FieldsReward,
    NumericReward,
    PythonReward,
)

PACKAGE = Path(__file__).resolve().parent.parent / "opro_cli"


def fields_json(**values: str) -> str:
    return json.dumps(values)


# --- exact_match and normalisation -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("answer", "expected", "reward"),
    [(" New   York. ", "new york", 1.0), ("NEW YORK!", "New York", 1.0), ("New Yorkshire", "New York", 0.0)],
)
def test_exact_match_compares_after_the_default_normalisations(answer, expected, reward):
    """Case, runs of spaces and surrounding punctuation must not cost a right answer its reward."""
    assert Scorer(ExactMatchReward(type="exact_match"))(answer, expected) == reward


# --- contains ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("answer", "expected", "reward"),
    [
        ("I think this review is positive.", "positive", 1.0),
        ("It is positive, I think", "positive", 1.0),  # punctuation after the word still ends a word
        ("Very POSITIVE indeed", "Positive.", 1.0),  # both sides normalised: case and the expected value's dot
        ("We flew to   new york last week", "New York", 1.0),  # several words, spaces collapsed
        ("It is positive", "pos", 0.0),  # a prefix of a word is not the word
        ("It is nonpositive", "positive", 0.0),  # nor is a suffix
        ("We flew to New Yorkshire", "New York", 0.0),
        ("negative", "positive", 0.0),
        (None, "positive", 0.0),  # unparseable answer
    ],
)
def test_contains_finds_the_expected_value_as_whole_words(answer, expected, reward):
    """`contains` must reward an answer that names the value in a sentence, and must not reward a mere substring."""
    assert Scorer(ContainsReward(type="contains"))(answer, expected) == reward


def test_contains_without_normalisation_is_case_sensitive():
    """An empty `normalize` list is the user's choice of a strict comparison: case must then count."""
    score = Scorer(ContainsReward(type="contains", normalize=[]))
    assert score("It is Positive", "Positive") == 1.0 and score("It is positive", "Positive") == 0.0


def test_contains_never_rewards_an_empty_expected_value():
    """An empty expected value is in every text as a substring; rewarding it would hide a data problem."""
    assert Scorer(ContainsReward(type="contains"))("anything at all", "") == 0.0


# --- numeric -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("answer", "expected", "tolerances", "reward"),
    [
        ("300", "300", {}, 1.0),
        ("300.0", "300", {}, 1.0),  # equal by value, not by text
        ("300.4", "300", {}, 0.0),  # no tolerance: must be equal
        ("about 300.4 euros", "300", {"abs_tol": 0.5}, 1.0),
        ("about 300.4 euros", "300", {"abs_tol": 0.1}, 0.0),
        ("about 300.4 euros", "300", {"rel_tol": 0.01}, 1.0),  # 0.4 <= 0.01 * 300.4
        ("about 300.4 euros", "300", {"rel_tol": 0.001}, 0.0),  # 0.4 > 0.001 * 300.4
        ("3 nights: 1,200 euros", "1200", {}, 1.0),  # the LAST number, thousands separators read
        ("-2.5", "-2.50", {}, 1.0),
        ("no number here", "300", {"abs_tol": 1000}, 0.0),
        (None, "300", {"abs_tol": 1000}, 0.0),
    ],
)
def test_numeric_reads_the_answer_as_a_number_within_the_tolerances(answer, expected, tolerances, reward):
    """A numeric answer is right when close enough by the spec's tolerance, however it is written."""
    assert Scorer(NumericReward(type="numeric", **tolerances))(answer, expected) == reward


def test_numeric_relative_tolerance_is_against_the_larger_magnitude_as_math_isclose():
    """The issue promises `math.isclose`: 110 vs 100 with rel_tol 0.095 is close (10 <= 0.095 * 110), although
    10 is more than 9.5 % of the expected 100; and 0.09 is not close (10 > 9.9)."""
    assert math.isclose(110, 100, rel_tol=0.095) and not math.isclose(110, 100, rel_tol=0.09)
    assert Scorer(NumericReward(type="numeric", rel_tol=0.095))("110", "100") == 1.0
    assert Scorer(NumericReward(type="numeric", rel_tol=0.09))("110", "100") == 0.0


def test_numeric_either_tolerance_suffices():
    """As `math.isclose`: within abs_tol OR within rel_tol; a tight one does not cancel a loose one."""
    score = Scorer(NumericReward(type="numeric", abs_tol=0.5, rel_tol=1e-9))
    assert score("100.4", "100") == 1.0 and score("100.6", "100") == 0.0


# --- f1 ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("answer", "expected", "reward"),
    [
        ("Paris", "paris", 1.0),
        ("the city of Paris", "Paris", 2 * (1 / 4) * 1 / (1 / 4 + 1)),  # precision 1/4, recall 1: 0.4
        ("I think this review is positive.", "positive", 2 / 7),  # precision 1/6, recall 1
        ("New York", "New York City", 0.8),  # precision 1, recall 2/3
        ("a a b", "a b b", 2 / 3),  # shared words counted with multiplicity: a once, b once
        ("Rome", "Paris", 0.0),
        (None, "Paris", 0.0),
    ],
)
def test_f1_is_the_token_overlap_after_normalisation(answer, expected, reward):
    """F1 gives partial credit by shared words: the values are the textbook ones, after lowercasing."""
    assert Scorer(F1Reward(type="f1"))(answer, expected) == pytest.approx(reward)


def test_f1_of_two_empty_texts_is_full_and_of_one_empty_text_is_zero():
    """Edge cases of the formula: nothing expected and nothing said agree; one side empty shares nothing."""
    assert token_f1("", "") == 1.0 and token_f1("paris", "") == 0.0 and token_f1("", "paris") == 0.0


def test_f1_without_normalisation_counts_case():
    """With `normalize: []` the user asked for case to count: 'Paris' and 'paris' are different tokens."""
    assert Scorer(F1Reward(type="f1", normalize=[]))("paris", "Paris") == 0.0


# --- fields --------------------------------------------------------------------------------------------------------

EXPECTED = fields_json(person="Anna", destination="Paris", nights="3")


def test_fields_default_is_the_mean_of_exact_matches_after_normalisation():
    """With no per-field rewards each field is an exact match (normalised), and the answer's reward their mean."""
    score = Scorer(FieldsReward(type="fields"), several=True)
    assert score(fields_json(person="anna.", destination="PARIS", nights="3"), EXPECTED) == 1.0
    assert score(fields_json(person="Anna", destination="the city of Paris", nights="3"), EXPECTED) == pytest.approx(2 / 3)


def test_a_missing_field_scores_zero_for_that_field_only():
    """A model that forgets one field still earns the others: the answer is not all or nothing."""
    score = Scorer(FieldsReward(type="fields"), several=True)
    assert score(fields_json(person="Anna", nights="3"), EXPECTED) == pytest.approx(2 / 3)
    assert score(fields_json(), EXPECTED) == 0.0
    assert score(None, EXPECTED) == 0.0  # no object at all


def test_fields_use_each_fields_reward_and_the_weights():
    """Per-field rewards and weights: destination by `contains` counts twice, nights (unlisted) by exact match
    with weight 1, so the weighted mean is over 1 + 2 + 1."""
    reward = FieldsReward(type="fields", fields={"person": {"type": "exact_match"}, "destination": {"type": "contains"}},
                          weights={"person": 1, "destination": 2})
    score = Scorer(reward, several=True)
    assert score(fields_json(person="Anna", destination="the city of Paris", nights="3"), EXPECTED) == 1.0
    assert score(fields_json(person="Anna", nights="3"), EXPECTED) == pytest.approx((1 + 0 + 1) / 4)
    assert score(fields_json(person="Ben", destination="Paris", nights="4"), EXPECTED) == pytest.approx(2 / 4)


def test_a_zero_weight_leaves_a_field_out_of_the_score():
    """Weight 0 means 'do not grade this field': a wrong value there must not lower the reward."""
    reward = FieldsReward(type="fields", weights={"nights": 0})
    assert Scorer(reward, several=True)(fields_json(person="Anna", destination="Paris", nights="9"), EXPECTED) == 1.0


def test_graded_field_rewards_add_up_in_the_mean():
    """An f1 field contributes its partial value: (1 + 0.4 + 1) / 3 for 'the city of Paris'."""
    reward = FieldsReward(type="fields", fields={"destination": {"type": "f1"}})
    answer = fields_json(person="Anna", destination="the city of Paris", nights="3")
    assert Scorer(reward, several=True)(answer, EXPECTED) == pytest.approx((1 + 0.4 + 1) / 3)


def test_numeric_field_reward_compares_numbers_by_value_with_its_tolerance():
    """A numeric field is read as a number: 301.2 is within abs_tol 2 of 300, and not within 1."""
    expected = fields_json(person="Anna", total="300")
    answer = fields_json(person="Anna", total="301.2")
    loose = FieldsReward(type="fields", fields={"total": {"type": "numeric", "abs_tol": 2}})
    tight = FieldsReward(type="fields", fields={"total": {"type": "numeric", "abs_tol": 1}})
    assert Scorer(loose, several=True)(answer, expected) == 1.0
    assert Scorer(tight, several=True)(answer, expected) == 0.5


def test_the_several_fields_parser_reads_tolerantly_and_a_broken_field_costs_only_itself():
    """From the model's reply to the reward: JSON in prose is found, an unreadable integer is left out (and said
    so), the other fields still score."""
    outputs = (OutputField("person"), OutputField("destination", "label", ("Paris", "Rome")), OutputField("nights", "integer"))
    fmt = AnswerFormat("text", (), {}, False, outputs)
    parsed = fmt.parse('Sure! {"person": "Anna", "destination": "paris", "nights": "three"} Have a nice trip.')
    assert json.loads(parsed.answer) == {"person": "Anna", "destination": "Paris"}
    assert parsed.error and "nights" in parsed.error
    expected = fmt.expected_text(json.dumps({"person": "Anna", "destination": "Paris", "nights": "3"}))
    assert Scorer(FieldsReward(type="fields"), several=True)(parsed.answer, expected) == pytest.approx(2 / 3)
    lines = fmt.parse("person: Anna\ndestination: Rome\nnights: 3")  # no JSON: `name: value` lines
    assert json.loads(lines.answer) == {"person": "Anna", "destination": "Rome", "nights": "3"}
    assert fmt.parse("I cannot help with that.").answer is None


# --- python --------------------------------------------------------------------------------------------------------

def python_reward(tmp_path: Path, body: str, name: str = "score") -> PythonReward:
    path = tmp_path / "my_reward.py"
    path.write_text(body)
    return PythonReward(type="python", function=f"{path}:{name}")


def example(line: int = 7, **record) -> Example:
    return Example(line, {"request": "x"}, "", record, Path("/data/test.jsonl"))


def test_python_reward_returning_a_bool_or_a_number_is_the_reward(tmp_path):
    """The user's function decides: True is 1, False 0, a number in [0, 1] is kept as it is (ints too)."""
    reward = python_reward(tmp_path, (
        "def score(answer, expected, example):\n"
        "    if answer == expected:\n"
        "        return True\n"
        "    if answer is None:\n"
        "        return False\n"
        "    return 0.25 if example['partial'] else 0\n"
    ))
    score = Scorer(reward)
    assert score("Paris", "Paris", example(partial=True)) == 1.0
    assert score(None, "Paris", example(partial=True)) == 0.0
    assert score("Rome", "Paris", example(partial=True)) == 0.25
    assert score("Rome", "Paris", example(partial=False)) == 0.0


def test_python_reward_with_several_fields_gets_dicts_and_the_whole_row(tmp_path):
    """With several fields the function gets the parsed answer and the expected value as dicts (None when
    unparseable), and the whole data row, including columns the prompt does not use."""
    reward = python_reward(tmp_path, (
        "SEEN = []\n"
        "def score(answer, expected, example):\n"
        "    SEEN.append((answer, expected, example))\n"
        "    if answer is None:\n"
        "        return 0\n"
        "    return sum(answer.get(k) == v for k, v in expected.items()) / len(expected)\n"
    ))
    score = Scorer(reward, several=True)
    row = {"request": "x", "person": "Anna", "destination": "Paris", "rate": 90}
    assert score(fields_json(person="Anna", destination="Rome"), fields_json(person="Anna", destination="Paris"),
                 example(**row)) == 0.5
    assert score(None, fields_json(person="Anna", destination="Paris"), example(**row)) == 0.0
    from opro_cli.spec import load_function

    seen = load_function(reward.function).__globals__["SEEN"]
    assert seen[0] == ({"person": "Anna", "destination": "Rome"}, {"person": "Anna", "destination": "Paris"}, row)
    assert seen[1][0] is None


@pytest.mark.parametrize("value", ["1.5", "-0.1", "'1'", "None", "float('nan')"])
def test_python_reward_outside_zero_one_stops_with_the_data_line(tmp_path, value):
    """A value that is not a bool or a number in [0, 1] is a bug in the user's function: it must stop the run
    with a message naming the function, the value and the data line, not be clipped or averaged in."""
    reward = python_reward(tmp_path, f"def score(answer, expected, example):\n    return {value}\n")
    with pytest.raises(UserCodeError) as caught:
        Scorer(reward)("Paris", "Paris", example(line=7))
    message = str(caught.value)
    assert "my_reward.py:score" in message and "/data/test.jsonl:7" in message
    assert "[0, 1]" in message
    assert caught.value.exit_code == 2


def test_python_reward_exception_shows_the_users_frames_and_none_of_ours(tmp_path):
    """The user must see where their code failed (their file, line and source), and nothing of opro's
    internals, which would only bury it."""
    reward = python_reward(tmp_path, (
        "def helper(row):\n"
        "    return row['rate'] / row['nights']\n"
        "\n"
        "def score(answer, expected, example):\n"
        "    return helper(example) > 1\n"
    ))
    with pytest.raises(UserCodeError) as caught:
        Scorer(reward)("Paris", "Paris", example(line=12, rate=90, nights=0))
    assert "/data/test.jsonl:12" in str(caught.value) and "ZeroDivisionError" in str(caught.value)
    details = caught.value.details
    assert f'File "{tmp_path / "my_reward.py"}", line 5, in score' in details
    assert f'File "{tmp_path / "my_reward.py"}", line 2, in helper' in details
    assert "row['rate'] / row['nights']" in details
    assert "opro_cli" not in details and str(PACKAGE) not in details
