"""The plan before the first call: budgets and presets, `--dry-run` (no call, nothing written), and a run that
spends what it planned, on the toy task served over real HTTP."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from opro_cli.artifact import load_artifact
from opro_cli.cli import app
from opro_cli.search.plan import budget_calls
from opro_cli.spec import TaskSpec
from server_task import optimize, use_server_env, write_server_task
from toy_task import spec_dict


@pytest.fixture(autouse=True)
def env(monkeypatch):
    use_server_env(monkeypatch)


def spec_with(**optimizer) -> TaskSpec:
    return TaskSpec.model_validate(spec_dict(model={"name": "toy/sentiment"}, optimizer=optimizer))


def test_presets_scale_with_the_pool_and_the_answer_formats():
    assert budget_calls(spec_with(budget="light"), pool=60, modes=1) == 120
    assert budget_calls(spec_with(budget="medium"), pool=60, modes=1) == 210  # 60 x (1.5 + 2)
    assert budget_calls(spec_with(budget="medium"), pool=60, modes=2) == 330
    assert budget_calls(spec_with(budget="heavy"), pool=40, modes=1) == 240
    assert budget_calls(spec_with(budget=77), pool=60, modes=2) == 77


def dry_run(task, *extra: str) -> dict:
    args = ["optimize", str(task.spec), "--data", str(task.train), "-o", str(task.artifact), "--dry-run", "--json", *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_dry_run_makes_no_call_writes_nothing_and_plans_within_ten_percent_of_the_real_run(tmp_path, fault_server):
    server = fault_server()
    task = write_server_task(tmp_path, server, train_size=40, optimizer={"validation_size": "all", "budget": "medium"})
    plan = dry_run(task, "--cache-dir", str(tmp_path / "cache"))
    assert server.requests == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml", "test.jsonl", "train.jsonl"]
    assert plan["pool"] == 40 and plan["budget"] == 140 and plan["calls"] == 140 and plan["prompt_tokens"] > 0

    optimize(task, "--no-cache")
    made = load_artifact(task.artifact).run.usage["calls"]
    assert server.requests == made
    assert abs(made - plan["calls"]) <= 0.1 * plan["calls"]


def test_budget_flag_overrides_the_spec_and_bad_values_are_one_line_exit_2(tmp_path, fault_server):
    task = write_server_task(tmp_path, fault_server())
    assert dry_run(task, "--budget", "50")["calls"] == 50
    assert dry_run(task, "--budget", "light")["budget"] == 12 * 2  # the toy spec's pool of 12, one format
    result = CliRunner().invoke(app, ["optimize", str(task.spec), "--data", str(task.train), "--dry-run", "--budget", "lots"])
    assert result.exit_code == 2 and "expected a number of LM calls or light, medium or heavy" in result.output


def test_a_bad_budget_in_the_spec_names_its_line(tmp_path, fault_server):
    task = write_server_task(tmp_path, fault_server(), optimizer={"budget": "huge"})
    result = CliRunner().invoke(app, ["optimize", str(task.spec), "--data", str(task.train), "--dry-run"])
    assert result.exit_code == 2
    assert "optimizer.budget" in result.output and "spec.yaml:" in result.output
