"""`--max-calls`: the provider never sees more requests than the budget (retries included, with calls in flight),
the run stops cleanly with the best prompt so far written, and `--resume` can finish it later."""

from __future__ import annotations

import pytest

from opro_cli.artifact import load_artifact
from server_task import checkpoint_step, optimize, same_result, use_server_env, write_server_task


@pytest.fixture(autouse=True)
def env(monkeypatch):
    use_server_env(monkeypatch)


@pytest.mark.parametrize("concurrency", [1, 6])
def test_call_budget_is_never_exceeded_and_the_best_so_far_is_written(tmp_path, fault_server, concurrency):
    server = fault_server(latency=0.005)
    task = write_server_task(tmp_path, server)  # 12 validation calls for the seed prompt, then ~60 per step
    result = optimize(task, "--no-cache", "--max-calls", "40", "-j", concurrency)
    artifact = load_artifact(task.artifact)
    assert server.requests <= 40 and artifact.run.usage["calls"] <= 40
    assert artifact.run.stopped == "budget" and artifact.run.message == "call budget of 40 reached"
    assert "call budget of 40 reached" in result.output
    assert artifact.scores.seed_validation == 0.0 and artifact.instructions  # the seed prompt, scored
    assert checkpoint_step(task.artifact) == len(artifact.history)  # kept, so --resume can go on


def test_retries_count_against_the_budget(tmp_path, fault_server):
    server = fault_server(fault_rate=0.5, faults=("500", "429"), seed=4)
    task = write_server_task(tmp_path, server)
    optimize(task, "--no-cache", "--max-calls", "30", "-j", "4")
    artifact = load_artifact(task.artifact)
    assert server.requests <= 30 and artifact.run.usage["retries"] > 0
    assert artifact.run.stopped == "budget"


def test_a_budget_too_small_for_the_seed_prompt_writes_nothing_and_fails(tmp_path, fault_server):
    server = fault_server()
    task = write_server_task(tmp_path, server)
    result = optimize(task, "--no-cache", "--max-calls", "5", code=2)
    assert result.output.strip() == (
        "error: call budget of 5 reached before the seed prompt was scored on its first 8 examples; nothing written"
    )
    assert server.requests <= 5 and not task.artifact.exists()  # calls cut short by the stop may never arrive


def test_a_run_stopped_by_its_budget_resumes_to_the_uninterrupted_result(tmp_path, fault_server):
    server = fault_server()
    task = write_server_task(tmp_path, server, train_size=36)  # 12 validation, 24 train: 3 steps of 8
    optimize(task, "--no-cache", "-o", tmp_path / "reference.json")
    optimize(task, "--no-cache", "--max-calls", "80")
    assert load_artifact(task.artifact).run.stopped == "budget"
    optimize(task, "--no-cache", "--resume")
    resumed = load_artifact(task.artifact)
    assert resumed.run.stopped == "completed" and same_result(resumed, tmp_path / "reference.json")


def test_cached_answers_cost_no_budget(tmp_path, fault_server):
    server = fault_server()
    task = write_server_task(tmp_path, server)
    optimize(task, "--cache-dir", tmp_path / "cache")
    server.reset_counters()
    optimize(task, "--cache-dir", tmp_path / "cache", "--max-calls", "1")
    artifact = load_artifact(task.artifact)
    assert artifact.run.stopped == "completed" and server.requests == 0
