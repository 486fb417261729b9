"""The real embedded model (SmolLM2-135M on llama.cpp's server engine, xllamacpp) end to end: a short optimise on a shipped example,
and label-set answers that are always one of the labels. Needs the `local` extra."""

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from opro_cli.artifact import load_artifact
from opro_cli.cli import app
from opro_cli.jobs import CallOptions, evaluate_prompt
from opro_cli.scoring.prompt import Prompt
from opro_cli.spec import load_spec

pytest.importorskip("xllamacpp")
pytestmark = pytest.mark.local_model

ROOT = Path(__file__).parent.parent


def shrink(tmp_path: Path, config: str, data: str, lines: int, **optimizer: int | str) -> tuple[Path, Path]:
    """A shipped spec and the head of its data file, made small enough for CI."""
    raw = yaml.safe_load((ROOT / "configs" / config).read_text())
    raw["optimizer"].update(optimizer)
    spec = tmp_path / config
    spec.write_text(yaml.safe_dump(raw))
    subset = tmp_path / data
    subset.write_text("".join((ROOT / "datasets" / data).read_text().splitlines(keepends=True)[:lines]))
    return spec, subset


def test_short_optimize_on_a_shipped_example_writes_an_artifact(tmp_path):
    spec, train = shrink(tmp_path, "topic.yaml", "topic_train.jsonl", 18, validation_size=12, batch_size=6, shot_sets=2,
                         candidates=1, budget=36)
    out = tmp_path / "best.json"
    result = CliRunner().invoke(app, ["optimize", str(spec), "--data", str(train), "-o", str(out),
                                      "--cache-dir", str(tmp_path / "cache"), "-q"])
    assert result.exit_code == 0, result.output
    artifact = load_artifact(out)
    assert len(artifact.history) >= 1 and 0 < artifact.run.usage["calls"] <= artifact.scores.spent <= 36
    assert artifact.scores.best_validation >= artifact.scores.seed_validation
    assert artifact.models["model"] == "local/smollm2" and "xllamacpp" in artifact.versions


def test_label_set_answers_are_always_labels(tmp_path):
    spec_path, test_file = shrink(tmp_path, "topic_labels.yaml", "topic_test.jsonl", 24)
    spec = load_spec(spec_path)
    result = evaluate_prompt(spec, Prompt(instructions=spec.prompt.instructions), test_file, options=CallOptions(cache=False))
    choices = set(spec.answer.choices)
    assert len(result.predictions) == 24
    assert all(p.answer in choices and p.error is None for p in result.predictions)
    assert {p.answer for p in result.predictions} != {next(iter(choices))}  # not one label for everything


def test_the_embedded_model_judges_an_optimise_and_eval_of_open_answers_and_a_rerun_sends_nothing(tmp_path):
    """Issue 35: one-sentence summaries graded by the embedded model as judge (by JSON schema, reason first),
    through optimise and eval; the judge's calls are cached with the answers, so a re-run sends nothing."""
    spec, train = shrink(tmp_path, "summary.yaml", "summary_train.jsonl", 8, validation_size=4, batch_size=2,
                         shot_sets=1, candidates=0, budget=8, k=1)
    test = tmp_path / "summary_test.jsonl"
    test.write_text("".join((ROOT / "datasets" / "summary_test.jsonl").read_text().splitlines(keepends=True)[:2]))
    out, cache = tmp_path / "best.json", ["--cache-dir", str(tmp_path / "cache")]
    result = CliRunner().invoke(app, ["optimize", str(spec), "--data", str(train), "-o", str(out), *cache, "-q"])
    assert result.exit_code == 0, result.output
    artifact = load_artifact(out)
    judged = artifact.run.judge_usage
    assert judged["calls"] > 0 and judged["calls"] < artifact.run.usage["calls"]

    def evaluate() -> dict:
        result = CliRunner().invoke(app, ["eval", str(out), "--data", str(test), *cache, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    first, again = evaluate(), evaluate()
    assert first["judge_usage"]["calls"] + first["judge_usage"]["cached_calls"] == 2
    assert first["unreadable_verdicts"] == 0  # the schema holds the small model to a readable verdict
    assert again["usage"]["calls"] == 0 and again["judge_usage"]["cached_calls"] == 2
    assert again["score"] == first["score"]
