"""A run against a misbehaving provider (the fault server, reached over real HTTP through litellm) ends with
the artifact a well-behaved provider gives, or stops at once with one clear line when retrying cannot help."""

from __future__ import annotations

import pytest

from fault_server import DEFAULT_FAULTS
from opro_cli.artifact import load_artifact
from server_task import KEY, KEY_ENV, optimize, same_result, use_server_env, write_server_task


@pytest.fixture(autouse=True)
def env(monkeypatch):
    use_server_env(monkeypatch)


def test_thirty_percent_faults_give_the_same_artifact_as_none(tmp_path, fault_server):
    server = fault_server(fault_rate=0.0, seed=3, slow_seconds=1.5)
    task = write_server_task(tmp_path, server, timeout=0.5, train_size=20)  # one step: 12 validation, 8 train
    optimize(task, "--no-cache", "-o", tmp_path / "clean.json")
    clean = load_artifact(tmp_path / "clean.json")
    needed = server.requests
    assert clean.run.usage["calls"] == needed and clean.run.usage["retries"] == 0

    server.reset_counters()
    server.fault_rate = 0.3  # same server, so the same api_base in both specs and artifacts
    optimize(task, "--no-cache", "-j", "8", "--retries", "10", "-o", tmp_path / "faulty.json")
    faulty = load_artifact(tmp_path / "faulty.json")

    assert same_result(clean, faulty)
    assert faulty.run.stopped == "completed"
    faults = server.faults
    assert all(faults[kind] > 0 for kind in DEFAULT_FAULTS), faults
    usage = faulty.run.usage
    # Every attempt is exactly one request: no hidden retries inside litellm or the openai client.
    assert server.requests == usage["calls"]
    assert server.served == needed  # each answer was obtained once
    assert usage["retries"] == sum(faults.values()) == usage["calls"] - needed
    assert usage["prompt_tokens"] == clean.run.usage["prompt_tokens"]  # failed attempts are not billed


def test_bad_key_stops_at_once_with_one_line_and_exit_3(tmp_path, fault_server, monkeypatch):
    server = fault_server(auth_token="sk-the-right-key-000")
    task = write_server_task(tmp_path, server)
    monkeypatch.setenv(KEY_ENV, "sk-the-wrong-key-111")
    result = optimize(task, "--no-cache", "-j", "8", code=3)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: openai/toy: AuthenticationError (HTTP 401): Incorrect API key provided.")
    assert f"${KEY_ENV}" in lines[0] and "sk-the-wrong-key-111" not in result.output
    assert server.requests == 1  # not retried, and the other 7 slots never sent theirs
    assert not task.artifact.exists()


def test_missing_key_variable_is_exit_2_before_any_request(tmp_path, fault_server, monkeypatch):
    server = fault_server()
    task = write_server_task(tmp_path, server)
    monkeypatch.delenv(KEY_ENV)
    result = optimize(task, "--no-cache", code=2)
    assert result.output.strip() == f"error: openai/toy: environment variable {KEY_ENV} is not set"
    assert server.requests == 0


def test_outage_mid_run_writes_the_best_so_far_and_resume_finishes_the_same(tmp_path, fault_server):
    server = fault_server()
    task = write_server_task(tmp_path, server)
    optimize(task, "--no-cache", "-o", tmp_path / "reference.json")
    reference = load_artifact(tmp_path / "reference.json")

    # The seed prompt takes 12 calls (the validation set); the 20th call and its 2 retries then fail.
    server.reset_counters()
    server.queue(["ok"] * 19 + ["503"] * 3)
    result = optimize(task, "--no-cache", "-j", "1", "--retries", "2", code=3)
    assert result.output == (
        "error: openai/toy: still failing after 3 attempts: ServiceUnavailableError (HTTP 503): The engine is "
        f"currently overloaded. (best prompt so far written to {task.artifact}; continue with --resume)\n"
    )
    assert server.requests == 22
    partial = load_artifact(task.artifact)
    assert partial.run.stopped == "provider" and partial.history == []
    assert partial.scores.seed_validation == reference.scores.seed_validation

    optimize(task, "--no-cache", "--resume")
    assert same_result(task.artifact, reference)


@pytest.mark.parametrize("fault", ["bad-content", "no-choices"])
def test_malformed_answers_score_as_failures_and_never_crash(tmp_path, fault_server, fault):
    server = fault_server(fault_rate=0.3, seed=5, faults=(fault,))
    answer = {"type": "label", "choices": ["positive", "negative"], "structured": "always"}
    task = write_server_task(tmp_path, server, answer=answer)
    optimize(task, "--no-cache")
    artifact = load_artifact(task.artifact)
    assert server.faults[fault] > 0
    assert artifact.run.stopped == "completed" and artifact.run.usage["retries"] == 0  # an answer, not an error
    assert artifact.scores.seed_validation < 1.0  # the toy model's JSON is always right, so only faults cost
    assert sum(step.parse_failures for step in artifact.history) > 0
    assert server.last_body["response_format"]["json_schema"]["schema"]["properties"]["answer"]["enum"] == [
        "positive",
        "negative",
    ]


def test_the_key_reaches_the_server_but_never_the_artifact(tmp_path, fault_server):
    server = fault_server(auth_token=KEY)
    task = write_server_task(tmp_path, server)
    optimize(task, "--no-cache")
    assert server.faults["401"] == 0
    assert KEY not in task.artifact.read_text()


@pytest.mark.parametrize(("flag", "spec_concurrency", "expected"), [(["-j", "3"], 8, 3), ([], 2, 2)])
def test_concurrency_bounds_requests_in_flight_at_the_server(tmp_path, fault_server, flag, spec_concurrency, expected):
    server = fault_server(latency=0.02)
    task = write_server_task(tmp_path, server, train_size=16, optimizer={"concurrency": spec_concurrency})
    optimize(task, "--no-cache", *flag)
    assert server.max_in_flight == expected
