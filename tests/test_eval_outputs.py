"""`opro eval` results for machines: --format table|json|junit|jsonl, -o FILE (repeatable), --json, --min-score,
--baseline; on the toy provider through litellm (see toy_model.py: ONE_WORD misses the hard reviews)."""

import json
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

import toy_model
from artifact_factory import ONE_WORD, make_artifact
from opro_cli.cli import app
from opro_cli.reports.formats import EvalReport, file_format
from opro_cli.scoring.evaluation import EvalResult
from opro_cli.lm import Usage
from opro_cli.scoring.prediction import Prediction
from opro_cli.scoring.results import ResultRows
from toy_task import write_toy_task

runner = CliRunner()


@pytest.fixture
def task(tmp_path, toy_provider):
    task = write_toy_task(tmp_path)
    make_artifact(task.spec, task.artifact, ONE_WORD)
    return task


def hard_lines(task):
    rows = [json.loads(line) for line in task.test.read_text().splitlines()]
    return [number for number, row in enumerate(rows, start=1) if toy_model.is_hard(row["review"])]


def opro(*args, code=0):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def evaluate(task, *extra, code=0):
    return opro("eval", task.artifact, "--data", task.test, "--no-cache", "-q", *extra, code=code)


def test_junit_has_one_testcase_per_example_and_failures_carry_input_expected_actual(task, tmp_path):
    hard = hard_lines(task)
    assert hard, "the toy test set needs some hard reviews for this test"
    path = tmp_path / "results.xml"
    evaluate(task, "-o", path)
    suite = ET.parse(path).getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 30 and suite.get("tests") == "30" and suite.get("failures") == str(len(hard))
    failed = {case.get("name"): case.find("failure") for case in cases if case.find("failure") is not None}
    assert sorted(failed) == sorted(f"test.jsonl:{line}" for line in hard)
    failure = failed[f"test.jsonl:{hard[0]}"]
    review = json.loads(task.test.read_text().splitlines()[hard[0] - 1])
    assert failure.get("type") == "wrong answer"
    assert failure.get("message") == f"expected {review['label']!r}, got {('negative' if review['label'] == 'positive' else 'positive')!r}"
    assert f"input:\nReview: {review['review']}" in failure.text
    assert f"expected:\n{review['label']}" in failure.text and "actual:\n" in failure.text
    assert {p.get("name"): p.get("value") for p in suite.find("properties")}["model"] == "toy/sentiment"


def test_format_wins_over_the_suffix(task, tmp_path):
    path = tmp_path / "results.txt"
    evaluate(task, "--format", "junit", "-o", path)
    assert ET.parse(path).getroot().tag == "testsuites"


def test_json_file_has_the_summary_and_every_example_with_its_line(task, tmp_path):
    path = tmp_path / "results.json"
    evaluate(task, "-o", path)
    document = json.loads(path.read_text())
    summary, examples = document["summary"], document["examples"]
    correct = 30 - len(hard_lines(task))
    assert summary["examples"] == 30 and summary["correct"] == correct
    assert summary["score"] == pytest.approx(correct / 30) and summary["passed"] is True
    assert [e["line"] for e in examples] == list(range(1, 31))
    assert set(examples[0]) == {"line", "inputs", "expected", "answer", "raw", "reward", "reason", "error"}


def test_jsonl_is_still_the_default_for_other_suffixes_and_outputs_can_be_combined(task, tmp_path):
    jsonl, xml, js = tmp_path / "r.jsonl", tmp_path / "r.xml", tmp_path / "r.json"
    result = evaluate(task, "-o", jsonl, "-o", xml, "-o", js)
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(rows) == 30 and set(rows[0]) == {"inputs", "expected", "answer", "raw", "reward", "reason", "error"}
    assert ET.parse(xml).getroot().tag == "testsuites" and "summary" in json.loads(js.read_text())
    assert "score" in result.stdout  # the table still shows


def test_format_without_output_prints_that_format_on_stdout(task):
    document = json.loads(evaluate(task, "--format", "json").stdout)
    assert document["summary"]["examples"] == 30
    assert ET.fromstring(evaluate(task, "--format", "junit").stdout).tag == "testsuites"


def test_json_prints_one_object_and_no_table(task, tmp_path):
    result = evaluate(task, "--json", "-o", tmp_path / "r.xml")
    assert len(result.stdout.strip().splitlines()) == 1
    summary = json.loads(result.stdout)
    assert summary["task"] == "toy-sentiment" and summary["model"] == "toy/sentiment"
    assert summary["usage"]["calls"] == 30 and summary["min_score"] is None and "baseline" not in summary
    assert (tmp_path / "r.xml").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--json", "--format", "json"], "--json and --format json both print on stdout"),
     (["--format", "table", "-o", "x.xml"], "--format table is for the terminal"),
     (["--format", "jsonl"], "--format jsonl is for files")],
)
def test_conflicting_output_flags_are_bad_input_before_any_call(task, toy_provider, args, message):
    result = evaluate(task, *args, code=2)
    assert message in result.output and toy_provider.CALLS.total == 0


def test_min_score_fails_with_exit_1_after_writing_the_results(task, tmp_path):
    path = tmp_path / "results.xml"
    result = evaluate(task, "--min-score", "0.99", "-o", path, "--json", code=1)
    assert json.loads(result.stdout)["passed"] is False
    assert "below --min-score 99.0%" in result.stderr
    gate = [case for case in ET.parse(path).getroot().iter("testcase") if case.get("name") == "score >= 99.0%"]
    assert len(gate) == 1 and gate[0].find("failure").get("type") == "quality gate"


def test_baseline_scores_the_seed_prompt_and_gives_the_paired_interval(task):
    result = evaluate(task, "--baseline")
    assert "seed prompt" in result.stdout and "0.0%" in result.stdout
    assert "95% CI" in result.stdout and "significant" in result.stdout
    summary = json.loads(evaluate(task, "--baseline", "--json").stdout)
    baseline = summary["baseline"]
    assert baseline["score"] == 0.0 and baseline["difference"] == pytest.approx(summary["score"])
    assert 0 < baseline["low"] <= baseline["difference"] <= baseline["high"] <= 1
    assert baseline["verdict"] == "better" and baseline["confidence"] == 0.95
    assert summary["usage"]["calls"] == 60  # both prompts, one LM


def test_baseline_rewards_are_in_the_json_document(task, tmp_path):
    path = tmp_path / "r.json"
    evaluate(task, "--baseline", "-o", path)
    examples = json.loads(path.read_text())["examples"]
    assert all(e["baseline_reward"] == 0.0 for e in examples)


def test_file_format_by_suffix():
    from pathlib import Path

    assert [file_format(Path(p), None) for p in ("a.xml", "a.JSON", "a.jsonl", "a")] == ["junit", "json", "jsonl", "jsonl"]


def test_junit_survives_characters_xml_cannot_carry(tmp_path):
    prediction = Prediction(inputs={"review": "bad\x00input"}, expected="negative", raw="\x1b[31mpositive\x07",
                            answer="positive\x1b", reward=0.0)
    result = EvalResult(score=0.0, rows=ResultRows.of([prediction]), usage=Usage(), model="toy/sentiment")
    report = EvalReport(tmp_path / "a.json", tmp_path / "d.jsonl", "t", "Review: {review}", result)
    failure = ET.fromstring(report.junit()).find("testsuite/testcase/failure")
    assert "bad\ufffdinput" in failure.text and "\x1b" not in failure.text
