"""`opro compare A B`: both prompts on the same data through one LM, agreement counts, the paired interval of
B - A and the --fail-if-worse gate; on the toy provider (SEED 0 %, ONE_WORD misses hard reviews, 2 shots 100 %)."""

import json

import pytest
from typer.testing import CliRunner

import toy_model
from artifact_factory import ONE_WORD, TWO_SHOTS, make_artifact
from opro_cli.cli import app
from opro_cli.jobs import CompareJob
from opro_cli.jobs import CallOptions
from toy_task import write_toy_task

runner = CliRunner()


@pytest.fixture
def task(tmp_path, toy_provider):
    task = write_toy_task(tmp_path)
    task.seed = make_artifact(task.spec, tmp_path / "seed.json")
    task.one_word = make_artifact(task.spec, tmp_path / "one_word.json", ONE_WORD)
    task.shots = make_artifact(task.spec, tmp_path / "shots.json", ONE_WORD, TWO_SHOTS)
    task.hard = sum(toy_model.is_hard(json.loads(line)["review"]) for line in task.test.read_text().splitlines())
    return task


def compare(task, a, b, *extra, code=0):
    result = runner.invoke(app, ["compare", str(a), str(b), "--data", str(task.test), "-q", *map(str, extra)])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def summary(task, a, b, *extra, code=0):
    return json.loads(compare(task, a, b, "--json", "--no-cache", *extra, code=code).stdout)


def test_a_better_b_shows_agreement_counts_and_a_positive_interval(task):
    result = compare(task, task.seed, task.one_word, "--no-cache")
    out = " ".join(result.stdout.replace("│", " ").split())
    assert "B - A +93.3 points (95% CI" in out and "verdict B is better" in out
    assert f"only B right {30 - task.hard}" in out and f"both wrong {task.hard}" in out
    found = summary(task, task.seed, task.one_word)
    assert found["agreement"] == {"both_right": 0, "only_a": 0, "only_b": 30 - task.hard, "both_wrong": task.hard}
    assert found["a"]["score"] == 0.0 and found["b"]["score"] == pytest.approx((30 - task.hard) / 30)
    assert 0 < found["low"] <= found["difference"] <= found["high"]
    assert found["verdict"] == "b is better" and found["worse"] is False


def test_fail_if_worse_exits_1_when_b_is_worse_beyond_the_interval(task):
    result = compare(task, task.one_word, task.seed, "--no-cache", "--fail-if-worse", code=1)
    assert f"error: {task.seed} is worse than {task.one_word}: -93.3 points (95% CI" in result.stderr
    assert "verdict" in result.stdout  # the table is printed before the gate fails
    assert summary(task, task.one_word, task.seed)["worse"] is True  # without the flag: exit 0


def test_a_difference_within_the_noise_does_not_fail_the_gate(task):
    found = summary(task, task.shots, task.one_word, "--fail-if-worse")
    assert found["difference"] == pytest.approx(-task.hard / 30)
    assert found["low"] < 0 <= found["high"] and found["verdict"] == "no significant difference"


def test_identical_prompts_tie_and_share_the_cache(task, tmp_path, toy_provider):
    found = json.loads(compare(task, task.one_word, task.one_word, "--json", "--cache-dir", tmp_path / "cache").stdout)
    assert found["difference"] == found["low"] == found["high"] == 0.0
    assert found["agreement"]["only_a"] == found["agreement"]["only_b"] == 0
    assert found["usage"]["calls"] == 30 and found["usage"]["cached_calls"] == 30  # B reused A's answers
    assert toy_provider.CALLS.total == 30


def test_bad_artifact_is_bad_input(task, tmp_path):
    result = compare(task, task.seed, tmp_path / "none.json", code=2)
    assert "none.json: file not found" in result.output


def test_the_job_knows_how_many_answers_are_to_come(task):
    job = CompareJob(task.seed, task.shots, task.test, CallOptions(cache=False))
    done = []
    job.run(done.append)
    assert job.total == len(done) == 60
