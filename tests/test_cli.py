"""`opro optimize` and `opro eval` end to end through litellm, on the toy provider (see toy_model.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opro_cli.artifact import load_artifact, save_artifact
from opro_cli.cli import app
from toy_task import write_toy_task

runner = CliRunner()


@pytest.fixture
def task(tmp_path, toy_provider):
    return write_toy_task(tmp_path)


def opro(*args: str, code: int = 0):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def optimize(task, *extra: str):
    return opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "--no-cache", "-q", *extra)


def test_optimize_finds_a_better_prompt_and_eval_confirms_it_on_held_out_data(task, tmp_path):
    result = optimize(task)
    assert "seed prompt (validation)" in result.output
    artifact = load_artifact(task.artifact)
    assert artifact.scores.seed_validation == 0.0  # the toy model answers in sentences without shots
    assert artifact.scores.best_validation == 1.0
    assert 2 <= len(artifact.shots) <= 3
    assert artifact.history and all(c.score is not None for step in artifact.history for c in step.candidates)
    assert artifact.run.stopped == "completed" and artifact.run.usage["calls"] > 0
    assert artifact.models == {"model": "toy/sentiment", "optimizer_model": "toy/sentiment"}
    assert not (tmp_path / "best.json.checkpoint.json").exists()

    results = tmp_path / "results.jsonl"
    out = opro("eval", task.artifact, "--data", task.test, "--no-cache", "-q", "-o", results, "--min-score", "0.9").output
    assert "100.0%" in out
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(rows) == 30 and all(r["reward"] == 1.0 for r in rows)


def test_same_seed_and_spec_give_the_same_artifact(task, tmp_path):
    optimize(task)
    first = load_artifact(task.artifact)
    optimize(task)
    second = load_artifact(task.artifact)
    assert first.reproducible_part() == second.reproducible_part()
    optimize(task, "--seed", "7")
    assert load_artifact(task.artifact).seed == 7


def test_min_score_fails_the_build_when_quality_drops(task):
    optimize(task)
    artifact = load_artifact(task.artifact)
    worse = artifact.model_copy(update={"shots": [], "instructions": "Classify the sentiment of the review."})
    save_artifact(task.artifact, worse)
    result = opro("eval", task.artifact, "--data", task.test, "--no-cache", "-q", "--min-score", "0.5", code=1)
    assert "below --min-score 50.0%" in result.output


def test_artifact_round_trip(task, tmp_path):
    optimize(task)
    artifact = load_artifact(task.artifact)
    copy = tmp_path / "copy.json"
    save_artifact(copy, artifact)
    assert load_artifact(copy) == artifact
    assert artifact.task_spec().model.name == "toy/sentiment"
    assert artifact.schema_version == 1 and "litellm" in artifact.versions


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not a readable JSON artifact"), ('{"schema_version": 1}', "not an opro artifact"),
     ('{"schema_version": 99}', "artifact schema 99 is not supported")],
)
def test_unreadable_artifact_is_one_line_exit_2(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = opro("eval", path, "--data", path, code=2)
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_bad_data_line_is_one_line_exit_2_and_nothing_is_written(task):
    task.train.write_text(task.train.read_text() + '{"review": "no label"}\n')
    result = opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "--no-cache", code=2)
    assert result.output.strip() == f"error: {task.train}:41: label: missing field"
    assert not task.artifact.exists()


def test_missing_spec_file(tmp_path):
    result = opro("optimize", tmp_path / "none.yaml", "--data", tmp_path / "x.jsonl", code=2)
    assert "none.yaml: file not found" in result.output


def test_provider_refusal_is_one_line_exit_3(tmp_path, toy_provider):
    task = write_toy_task(tmp_path, model={"name": "toy/fail-auth"})
    result = opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "--no-cache", "-q", "-j", "1", code=3)
    assert "AuthenticationError" in result.output and len(result.output.strip().splitlines()) == 1
    assert toy_provider.CALLS.total == 1  # not retried


def test_structured_label_answers_go_through_the_schema(tmp_path, toy_provider):
    task = write_toy_task(tmp_path, answer={"type": "label", "choices": ["positive", "negative"], "structured": "always"})
    optimize(task)
    artifact = load_artifact(task.artifact)
    assert artifact.answer_format.structured and artifact.scores.seed_validation == 1.0
    assert json.loads(toy_provider.CALLS.last["optional_params"]["response_format"]["json_schema"]["schema"]
                      ["properties"]["answer"]["enum"].__repr__().replace("'", '"')) == ["positive", "negative"]


def test_help_is_fast_because_it_does_not_import_litellm():
    code = "import sys\nfrom opro_cli.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass\nprint('litellm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")


def test_a_provider_without_schema_support_goes_through_the_tolerant_parser(tmp_path, toy_provider):
    task = write_toy_task(tmp_path, answer={"type": "label", "choices": ["positive", "negative"]})
    optimize(task)
    artifact = load_artifact(task.artifact)
    assert artifact.answer_format.structured is False  # toy/sentiment does not support response schemas
    assert "response_format" not in toy_provider.CALLS.last["optional_params"]
    # The toy answers "I think this review is positive." without shots: 0 by exact match on free text,
    # but the label set lets the parser read the one label the sentence names.
    assert artifact.scores.seed_validation == 1.0


def test_shell_completion_installs_and_completes(tmp_path):
    opro_script = Path(sys.executable).with_name("opro")
    env = {**os.environ, "HOME": str(tmp_path), "SHELL": "/bin/bash"}
    installed = subprocess.run([opro_script, "--install-completion"], env=env, capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    script = tmp_path / ".bash_completions" / "opro.sh"
    assert "_OPRO_COMPLETE=complete_bash" in script.read_text() and str(script) in (tmp_path / ".bashrc").read_text()
    asked = {**env, "COMP_WORDS": "opro eval --m", "COMP_CWORD": "2", "_OPRO_COMPLETE": "complete_bash"}
    words = subprocess.run([opro_script], env=asked, capture_output=True, text=True).stdout.split()
    assert words == ["--model", "--min-score"]
