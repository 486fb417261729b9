"""`opro validate --judge-agreement` (issue 35, point 3): the judge grades a person's labelled answers, and the
agreement is shown with its 95 % interval and the rows where they disagree most; the statistics checked against
values worked out by hand."""

import json
import math

import pytest
import yaml
from typer.testing import CliRunner

from opro_cli.cli import app
from opro_cli.scoring.agreement import accuracy, cohen_kappa, kappa_value, ranks, spearman
from toy_task import spec_dict

runner = CliRunner()


def test_kappa_is_agreement_beyond_chance():
    person = [1, 1, 1, 1, 0, 0, 0, 0, 1, 0]
    judge = [1, 1, 1, 0, 0, 0, 0, 1, 1, 0]
    assert kappa_value(person, judge) == pytest.approx(0.6)  # observed 0.8, chance 0.5
    kappa = cohen_kappa(person, judge)
    assert kappa.low < 0.6 < kappa.high and -1 <= kappa.low and kappa.high <= 1
    assert accuracy(person, judge).value == 0.8
    assert math.isnan(kappa_value([1, 1], [1, 1]))  # one grade only: chance is certain, kappa undefined


def test_spearman_ranks_ties_by_their_mean_and_gives_a_fisher_interval():
    assert ranks([3, 1, 1, 2]) == [4, 1.5, 1.5, 3]
    rho = spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])
    assert rho.value == pytest.approx(0.8)  # 1 - 6 * 4 / (5 * 24)
    assert rho.low < 0.8 < rho.high
    assert math.isnan(spearman([1, 1, 1, 1], [1, 2, 3, 4]).value)  # no spread


RUBRIC = "The reply must say 'thanks'."
ROWS = [  # (answer, the person's grade); the toy judge passes an answer that says "thanks"
    ("Thanks for writing.", "pass"), ("Many thanks!", "pass"), ("thanks, see you", "pass"), ("OK.", "fail"),
    ("Bye.", "fail"), ("No.", "fail"), ("Thanks.", "pass"), ("Noted.", "fail"),
    ("Thank you so much.", "pass"),  # the person passes it, the judge (wanting "thanks") does not
    ("thanks but no thanks, go away", "fail"),  # the person fails it, the judge passes it
]


def write_task(tmp_path, scale="pass_fail", rows=ROWS):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(spec_dict(reward={"type": "judge", "model": "toy/judge", "rubric": RUBRIC,
                                                    "scale": scale}), sort_keys=False), encoding="utf-8")
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("".join(json.dumps({"review": f"review {i}", "answer": a, "score": s}) + "\n"
                                for i, (a, s) in enumerate(rows)), encoding="utf-8")
    return spec, labelled


def test_judge_agreement_on_pass_fail(tmp_path, toy_provider, monkeypatch):
    monkeypatch.setenv("OPRO_CACHE_DIR", str(tmp_path / "cache"))
    spec, labelled = write_task(tmp_path)
    result = runner.invoke(app, ["validate", str(spec), "--judge-agreement", str(labelled)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "judge agreement: 10 labelled rows" in out and "judge toy/judge (pass/fail)" in out
    assert "accuracy: 80.0% (95% interval" in out and "Cohen's kappa: 0.60 (95% interval" in out
    assert "where they disagree most:" in out
    assert f"{labelled}:9: person pass, judge fail: mentions nothing required; misses thanks" in out
    assert f"{labelled}:10: person fail, judge pass" in out
    assert toy_provider.CALLS.by_model["judge"] == 10
    toy_provider.reset()  # graded again from the cache
    assert runner.invoke(app, ["validate", str(spec), "--judge-agreement", str(labelled)]).exit_code == 0
    assert toy_provider.CALLS.total == 0


def test_judge_agreement_on_a_scale_gives_spearman(tmp_path, toy_provider):
    rows = [(a, 5 if s == "pass" else 1) for a, s in ROWS]
    spec, labelled = write_task(tmp_path, scale="1-5", rows=rows)
    result = runner.invoke(app, ["validate", str(spec), "--judge-agreement", str(labelled), ])
    assert result.exit_code == 0, result.output
    assert "Spearman's rho: 0.60 (95% interval" in result.stdout and "person 5, judge 1" in result.stdout


@pytest.mark.parametrize(("row", "message"), [
    ({"review": "r", "answer": "a"}, "labelled.jsonl:1: score: required field is missing"),
    ({"review": "r", "answer": "a", "score": "maybe"}, "labelled.jsonl:1: score: expected pass or fail, got 'maybe'"),
    ({"answer": "a", "score": "pass"}, "labelled.jsonl:1: review: required field is missing"),
])
def test_bad_labelled_rows_fail_before_any_call(tmp_path, toy_provider, row, message):
    spec, labelled = write_task(tmp_path)
    labelled.write_text(json.dumps(row) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(spec), "--judge-agreement", str(labelled)])
    assert result.exit_code == 2 and message in result.output and toy_provider.CALLS.total == 0


def test_judge_agreement_needs_a_judge_reward(tmp_path, toy_provider):
    spec, labelled = write_task(tmp_path)
    spec.write_text(yaml.safe_dump(spec_dict(), sort_keys=False), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(spec), "--judge-agreement", str(labelled)])
    assert result.exit_code == 2 and "--judge-agreement needs a reward of type judge" in result.output
