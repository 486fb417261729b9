"""The CI recipe of docs/ci.md, run for real: its `opro` commands are read from the page and run in order with
CliRunner on the toy provider, in a directory laid out as the page says, with OPRO_CACHE_DIR shared between runs."""

import json
import re
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from opro_cli.artifact import load_artifact
from opro_cli.cli import app
from toy_task import spec_dict, write_rows
import toy_model

DOC = Path(__file__).resolve().parent.parent / "docs" / "ci.md"
runner = CliRunner()


def recipe() -> list[str]:
    """The `run: opro ...` lines of the workflow in docs/ci.md, in order."""
    workflow = DOC.read_text(encoding="utf-8").split("```yaml", 1)[1].split("```", 1)[0]
    yaml.safe_load(workflow)  # the workflow itself is valid YAML
    return re.findall(r"^\s*run: (opro .+)$", workflow, re.MULTILINE)


def step(name: str) -> str:
    found = [line for line in recipe() if line.split()[1] == name]
    assert len(found) == 1, found
    return found[0]


def run(line: str, env: dict[str, str]):
    """One recipe line; a trailing `> FILE` is done here, as the shell would."""
    command, _, redirect = line.partition(" > ")
    result = runner.invoke(app, shlex.split(command)[1:], env=env)
    assert "Traceback" not in result.output, result.output
    if redirect:
        Path(redirect.strip()).write_text(result.stdout)
    return result


@pytest.fixture
def project(tmp_path, monkeypatch, toy_provider):
    """A repository laid out as docs/ci.md says, with its committed artifact made by an earlier run."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prompt").mkdir()
    Path("prompt/task.yaml").write_text(yaml.safe_dump(spec_dict(), sort_keys=False))
    write_rows(Path("prompt/train.jsonl"), toy_model.synthetic_reviews(40, 0))
    write_rows(Path("prompt/test.jsonl"), toy_model.synthetic_reviews(30, 1))
    env = {"OPRO_CACHE_DIR": str(tmp_path / ".opro-cache"), "NO_COLOR": "1", "FORCE_COLOR": "1"}
    earlier = step("optimize").replace("-o new.json", "-o prompt/best.json")
    assert run(earlier, env).exit_code == 0
    toy_provider.reset()
    return env


def test_the_recipe_has_every_step():
    assert [line.split()[1] for line in recipe()] == ["validate", "optimize", "eval", "compare", "report"]


def test_nothing_changed_regenerates_the_same_prompt_with_zero_calls_and_passes(project, toy_provider):
    results = {}
    for line in recipe():
        name = line.split()[1]
        results[name] = run(line, project)
        if name == "optimize":  # the regeneration: everything from the cache
            assert toy_provider.CALLS.total == 0
    assert {name: r.exit_code for name, r in results.items()} == dict.fromkeys(results, 0)
    assert all("\x1b[" not in r.output for r in results.values())

    committed, new = load_artifact("prompt/best.json"), load_artifact("new.json")
    assert new.run.usage["calls"] == 0 and new.run.usage["cached_calls"] > 0
    assert new.reproducible_part() == committed.reproducible_part()

    suite = ET.parse("results.xml").getroot().find("testsuite")
    assert suite.get("tests") == "31" and suite.get("failures") == "0"  # 30 examples + the --min-score gate
    assert json.loads(Path("results.json").read_text())["summary"]["passed"] is True
    comparison = json.loads(Path("compare.json").read_text())
    assert comparison["verdict"] == "no significant difference" and comparison["difference"] == 0.0
    assert comparison["usage"]["calls"] == 0  # eval asked the same questions first
    assert ET.parse("curve.svg").getroot().tag.endswith("svg") and Path("report.html").stat().st_size > 0


def test_a_worse_regenerated_prompt_fails_the_gates(project, toy_provider):
    # A change that makes the optimiser useless: no shots, no new instructions -> the seed prompt, 0 %.
    Path("prompt/task.yaml").write_text(yaml.safe_dump(spec_dict(optimizer={"k": 0, "candidates": 0}), sort_keys=False))
    assert run(step("validate"), project).exit_code == 0
    assert run(step("optimize"), project).exit_code == 0
    assert load_artifact("new.json").scores.best_validation == 0.0

    evaluation = run(step("eval"), project)
    assert evaluation.exit_code == 1 and "below --min-score 80.0%" in evaluation.stderr
    assert ET.parse("results.xml").getroot().get("failures") == "31"  # 30 examples + the gate

    comparison = run(step("compare"), project)
    assert comparison.exit_code == 1 and "new.json is worse than prompt/best.json" in comparison.stderr
    summary = json.loads(Path("compare.json").read_text())
    assert summary["worse"] is True and summary["agreement"]["only_a"] == 30
    assert run(step("report"), project).exit_code == 0


def test_a_bad_data_line_stops_the_recipe_at_validate(project, toy_provider):
    with open("prompt/test.jsonl", "a") as handle:
        handle.write('{"review": "no label"}\n')
    result = run(step("validate"), project)
    assert result.exit_code == 2 and "prompt/test.jsonl:31: label: missing field" in result.stdout
    assert toy_provider.CALLS.total == 0
