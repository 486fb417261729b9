"""Answer formats: schema requests, shot rendering and a tolerant parser for messy model output."""

import json

import pytest

from opro_cli.scoring.answers import AnswerFormat
from opro_cli.scoring.rewards import Scorer
from opro_cli.spec import AnswerSpec, ExactMatchReward

LABELS = AnswerFormat("label", ("positive", "negative"))


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("positive", "positive"),
        ("Negative.", "negative"),
        ('"positive"', "positive"),
        ("I think this review is positive.", "positive"),
        ("Sentiment: NEGATIVE", "negative"),
        ("The review is clearly negative, not positive.", None),  # names two labels
        ("It was a great movie", None),  # names none
        ("", None),
        ("positively great", None),  # whole words only
    ],
)
def test_label_fallback_parser(text, answer):
    assert LABELS.parse(text).answer == answer


def test_parse_errors_are_explained():
    assert LABELS.parse("negative or positive").error == "names 2 labels"
    assert LABELS.parse("no idea").error == "names no label"


@pytest.mark.parametrize(
    ("text", "answer"),
    [("42", "42"), ("The answer is 1,234.", "1234"), ("from 3 to 7", "7"), ("none", None), ("2.5", None)],
)
def test_integer_parser(text, answer):
    assert AnswerFormat("integer").parse(text).answer == answer


def test_number_parser_keeps_decimals():
    assert AnswerFormat("number").parse("about 2.50 kg").answer == "2.5"


def test_structured_format_asks_for_a_schema_and_reads_json():
    fmt = AnswerFormat("label", ("positive", "negative"), structured=True)
    schema = fmt.response_format()["json_schema"]["schema"]
    assert schema["properties"]["answer"]["enum"] == ["positive", "negative"]
    assert fmt.parse('{"answer": "negative"}').answer == "negative"
    assert fmt.parse('Sure! {"answer": "positive"} hope it helps').answer == "positive"
    assert fmt.parse("plain positive").answer == "positive"  # tolerant when the provider ignored the schema
    assert fmt.parse('{"answer": "meh"}').answer is None


def test_unstructured_format_sends_no_schema_but_says_the_format():
    assert LABELS.response_format() is None
    assert LABELS.instruction() == "Answer with exactly one of: positive, negative and nothing else."


def test_extra_fields_come_before_the_answer_and_are_kept():
    fmt = AnswerFormat("integer", fields={"reasoning": "think step by step"})
    assert list(fmt.schema()["properties"]) == ["reasoning", "answer"]
    parsed = fmt.parse('{"reasoning": "2+2 is 4", "answer": 4}')
    assert parsed.answer == "4" and parsed.fields == {"reasoning": "2+2 is 4"}
    assert json.loads(fmt.render("4", {"reasoning": "2+2"})) == {"reasoning": "2+2", "answer": 4}


def test_shots_render_in_the_answer_format():
    assert LABELS.render("positive") == "positive"
    structured = AnswerFormat("label", ("positive", "negative"), structured=True)
    assert json.loads(structured.render("positive")) == {"answer": "positive"}


def test_choices_can_be_inferred_from_training_answers():
    spec = AnswerSpec(type="label", choices="infer")
    fmt = AnswerFormat.resolve(spec, structured=False, observed=["b", "a", "b"])
    assert fmt.choices == ("a", "b")


@pytest.mark.parametrize(("kind", "expected", "reply"), [
    ("number", "3.0", "It is 3."), ("number", "2.50", "2.5"), ("integer", "3.0", "3"), ("number", "1e3", "1000"),
])
def test_numbers_compare_by_value_however_the_dataset_writes_them(kind, expected, reply):
    fmt = AnswerFormat(type=kind)
    score = Scorer(ExactMatchReward(type="exact_match"))
    assert score(fmt.parse(reply).answer, fmt.expected_text(expected)) == 1.0
    assert score(fmt.parse("4").answer, fmt.expected_text(expected)) == 0.0
    assert AnswerFormat(type="text").expected_text(expected) == expected  # text is compared as written
