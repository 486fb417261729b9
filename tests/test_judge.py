"""The `judge` reward (issue 35): a model grades each answer against a rubric. On the toy provider's
deterministic judge: the verdict read tolerantly, the judge's calls through the LM layer (cached, counted apart,
in the dry run), unreadable verdicts counted and never stopping a run, a failing judge keeping the best prompt."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from opro_cli.artifact import load_artifact
from opro_cli.cli import app
from opro_cli.scoring.judge import read_verdict
from opro_cli.spec import JudgeReward
from toy_task import spec_dict, write_toy_task

runner = CliRunner()
PASS_FAIL = JudgeReward(type="judge", rubric="r")
SCALE = JudgeReward(type="judge", rubric="r", scale="1-5")


def opro(*args, code=0, env=None):
    result = runner.invoke(app, [str(a) for a in args], env=env)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize(("reply", "score", "reason"), [
    ('{"reason": "names the city", "score": "pass"}', 1.0, None),
    ('{"reason": "misses the date", "score": "fail"}', 0.0, "misses the date"),
    ('Sure! {"reason": "ok", "score": true} hope that helps', 1.0, None),
    ('reason: too vague\nscore: FAIL', 0.0, "too vague"),
    ("After careful thought: PASS.", 1.0, None),
])
def test_pass_fail_verdicts_are_read_tolerantly(reply, score, reason):
    verdict = read_verdict(reply, PASS_FAIL)
    assert (verdict.score, verdict.reason, verdict.unreadable) == (score, reason, False)


@pytest.mark.parametrize(("reply", "score"), [('{"reason": "fine", "score": 4}', 0.75), ('{"score": "5/5"}', 1.0),
                                              ("reason: weak\nscore: 1", 0.0)])
def test_scales_map_onto_zero_one(reply, score):
    assert read_verdict(reply, SCALE).score == score


@pytest.mark.parametrize(("reward", "reply", "problem"), [
    (PASS_FAIL, "I like it.", "no score in the reply"),
    (PASS_FAIL, "PASS or FAIL, hard to say", "no score in the reply"),
    (PASS_FAIL, '{"reason": "x", "score": "maybe"}', "'maybe' is not pass or fail"),
    (SCALE, '{"reason": "x", "score": 9}', "score 9 is outside the scale 1-5"),
    (SCALE, '{"reason": "x", "score": "great"}', "not a number on the scale 1-5"),
])
def test_an_unreadable_verdict_scores_zero_and_says_why(reward, reply, problem):
    verdict = read_verdict(reply, reward)
    assert verdict.score == 0 and verdict.unreadable and problem in verdict.reason


def judged_task(tmp_path, **reward):
    """The toy sentiment task graded by the toy judge against the reference label."""
    judge = {"type": "judge", "model": "toy/judge", "rubric": "The answer names the review's sentiment.",
             "reference": True, **reward}
    return write_toy_task(tmp_path, reward=judge, optimizer={"budget": 60})


def test_optimise_and_eval_with_a_judge_cache_the_judges_calls(tmp_path, toy_provider, monkeypatch):
    monkeypatch.setenv("OPRO_CACHE_DIR", str(tmp_path / "cache"))
    task = judged_task(tmp_path)
    out = opro("optimize", task.spec, "--data", task.train, "-o", task.artifact).stdout
    assert "of which judge" in out
    artifact = load_artifact(task.artifact)
    judge_calls = toy_provider.CALLS.by_model["judge"]
    assert judge_calls > 0 and artifact.run.judge_usage["calls"] == judge_calls
    assert artifact.run.usage["calls"] == sum(toy_provider.CALLS.by_model.values())

    rows = tmp_path / "rows.jsonl"
    toy_provider.reset()
    summary = json.loads(opro("eval", task.artifact, "--data", task.test, "--json", "-o", rows).stdout)
    assert summary["judge_usage"]["calls"] + summary["judge_usage"]["cached_calls"] == 30
    assert summary["unreadable_verdicts"] == 0 and summary["usage"]["calls"] == sum(toy_provider.CALLS.by_model.values())
    lost = [row for row in map(json.loads, rows.read_text().splitlines()) if row["reward"] < 1]
    assert all(row["reason"].startswith("mentions nothing required; misses ") for row in lost)

    toy_provider.reset()  # a re-run asks nothing: the answers and the verdicts come from the cache
    again = json.loads(opro("eval", task.artifact, "--data", task.test, "--json").stdout)
    assert toy_provider.CALLS.total == 0 and again["score"] == summary["score"]
    assert again["judge_usage"]["cached_calls"] == 30


def test_unreadable_verdicts_score_zero_are_counted_and_never_stop_a_run(tmp_path, toy_provider):
    task = judged_task(tmp_path, rubric="GARBLE", reference=False)
    opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "--no-cache", "-q")
    result = opro("eval", task.artifact, "--data", task.test, "--no-cache")
    assert "unreadable verdicts" in result.stdout and "30 (scored 0)" in result.stdout


def test_a_grade_outside_the_scale_is_an_unreadable_verdict(tmp_path, toy_provider):
    task = judged_task(tmp_path, rubric="OUTSIDE 'positive'", reference=False, scale="1-5")
    opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "--no-cache", "-q")
    summary = json.loads(opro("eval", task.artifact, "--data", task.test, "--no-cache", "--json").stdout)
    assert summary["unreadable_verdicts"] == 30 and summary["score"] == 0


def test_a_judge_that_fails_mid_run_exits_3_and_keeps_the_best_prompt(tmp_path, toy_provider):
    task = judged_task(tmp_path, model="toy/judge-breaks-12")
    result = opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "--no-cache", "-q", code=3)
    assert "toy/judge-breaks-12" in result.output
    artifact = load_artifact(task.artifact)
    assert artifact.run.stopped == "provider" and artifact.instructions


def test_the_dry_run_counts_the_judges_calls(tmp_path, toy_provider):
    task = judged_task(tmp_path)
    plan = json.loads(opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "--dry-run",
                           "--json").stdout)
    assert plan["judge_calls"] == plan["evaluation_calls"] > 0
    table = opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "--dry-run").stdout
    assert "judge calls" in table and "toy/judge" in table
    assert toy_provider.CALLS.total == 0


def test_the_budget_counts_the_judges_calls(tmp_path, toy_provider):
    """A budget is LM calls: with a judge, each answer scored costs two, so a number buys half the answers and a
    preset buys the same answers at twice the calls; the run stays within its budget."""
    task = judged_task(tmp_path)
    spec = yaml.safe_load(task.spec.read_text())
    spec["optimizer"]["budget"] = 120
    task.spec.write_text(yaml.safe_dump(spec, sort_keys=False))
    plan = json.loads(opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "--dry-run", "--json").stdout)
    assert (plan["call_budget"], plan["budget"], plan["judges"]) == (120, 60, 1)
    assert plan["evaluation_calls"] + plan["judge_calls"] + plan["proposal_calls"] == plan["calls"] <= 120
    opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "--no-cache", "-q")
    sent = load_artifact(task.artifact).run.usage["calls"]
    assert sent == toy_provider.CALLS.total and 0.7 * 120 <= sent <= 120

    for reward in ("judge", "rule"):  # a preset: the same answers, and with a judge twice the calls
        if reward == "rule":
            spec["reward"] = {"type": "exact_match"}
        spec["optimizer"]["budget"] = "light"
        task.spec.write_text(yaml.safe_dump(spec, sort_keys=False))
        plan = json.loads(opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "--dry-run",
                               "--json").stdout)
        if reward == "judge":
            judged = plan
    assert judged["budget"] == plan["budget"] and judged["call_budget"] == 2 * plan["call_budget"] == 2 * plan["budget"]


def spec_file(tmp_path, reward) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec_dict(reward=reward), sort_keys=False), encoding="utf-8")
    return path


def test_a_rubric_file_is_read_next_to_the_spec_and_a_missing_one_is_bad_input(tmp_path):
    (tmp_path / "rubric.md").write_text("Names the sentiment.\n", encoding="utf-8")
    path = spec_file(tmp_path, {"type": "judge", "rubric": "rubric.md"})
    from opro_cli.spec import load_spec

    assert load_spec(path).reward.rubric == "Names the sentiment.\n"
    path = spec_file(tmp_path, {"type": "judge", "rubric": "missing.md"})
    result = opro("validate", path, code=2)
    assert f"reward.rubric: {tmp_path / 'missing.md'}: file not found" in result.output


@pytest.mark.parametrize(("reward", "message"), [
    ({"prompt": "Grade {answer} by {style}"}, "reward.prompt: unknown placeholder {style}"),
    ({"prompt": "Grade it"}, "reward.prompt: the judge prompt must contain {answer}"),
    ({"prompt": "Is {answer} like {expected}?"}, "reward.prompt: {expected} shows the judge the expected value"),
    ({"scale": "5-1"}, "reward.scale: expected pass_fail or an integer scale such as 1-5"),
])
def test_judge_settings_are_checked_at_load_time(tmp_path, reward, message):
    path = spec_file(tmp_path, {"type": "judge", "rubric": "Names the sentiment.", **reward})
    assert message in opro("validate", path, code=2).output


def test_a_judged_field_works_like_any_per_field_reward(tmp_path, toy_provider):
    """`fields` with a judged field: the rule fields at once, the judged one by the toy judge."""
    from opro_cli.data import Example
    from opro_cli.lm import LM
    from opro_cli.scoring.answers import AnswerFormat
    from opro_cli.scoring.fields import OutputField
    from opro_cli.scoring.runner import TaskRunner
    from opro_cli.spec import TaskSpec
    import asyncio

    spec = TaskSpec.model_validate(spec_dict(
        prompt={"instructions": "Book.", "input": "Request: {request}", "output": ["person", "note"]},
        reward={"type": "fields", "fields": {"note": {"type": "judge", "model": "toy/judge", "rubric": "Says 'thanks'."}}}))
    outputs = (OutputField("person"), OutputField("note"))
    runner = TaskRunner(spec, spec.model, AnswerFormat("text", (), {}, False, outputs), LM())
    example = Example(1, {"request": "x"}, json.dumps({"person": "Anna", "note": "n"}), {}, None)
    good = asyncio.run(runner.assess(example, json.dumps({"person": "Anna", "note": "Thanks a lot"})))
    bad = asyncio.run(runner.assess(example, json.dumps({"person": "Ben", "note": "Bye"})))
    assert good.reward == 1.0 and good.reason is None
    assert bad.reward == 0.0 and bad.reason == "person: expected 'Anna', got 'Ben'; note: mentions nothing required; misses thanks"
    assert toy_provider.CALLS.by_model["judge"] == 2
