"""`opro validate`: every problem of a spec and its data files at once, as file:line: field: message, no LM call."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from opro_cli.cli import app
from opro_cli.jobs.validating import validate
from toy_task import spec_dict, write_toy_task

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def opro(*args, code=0):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize(("spec", "data"), [("sentiment", "sentiment"), ("topic", "topic")])
def test_the_shipped_examples_are_valid(spec, data):
    config, train, test = ROOT / "configs" / f"{spec}.yaml", ROOT / "datasets" / f"{data}_train.jsonl", ROOT / "datasets" / f"{data}_test.jsonl"
    result = opro("validate", config, "--data", train, "-d", test)
    lines = result.stdout.strip().splitlines()
    assert lines[0] == f"{config}: ok (task {spec}, model local/smollm2)"
    assert lines[1].startswith(f"{train}: ok (") and lines[1].endswith(" examples)")
    assert lines[2].startswith(f"{test}: ok (")


def test_every_problem_is_listed_with_file_line_and_field(tmp_path):
    spec = spec_dict(answer={"type": "label", "choices": ["positive", "negative"]})
    spec["model"]["temprature"] = 0  # typo
    spec["optimizer"]["k"] = -1
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    data = tmp_path / "data.jsonl"
    data.write_text(
        '{"review": "good fun", "label": "positive"}\n'
        '{"review": "no label"}\n'
        "not json\n"
        "\n"
        '{"review": "meh", "label": "neutral"}\n'
        '{"review": ["a list"], "label": "negative"}\n'
    )
    missing = tmp_path / "missing.jsonl"
    result = opro("validate", spec_path, "--data", data, "--data", missing, code=2)
    lines = {spec_path.read_text().splitlines().index(line) + 1: line for line in spec_path.read_text().splitlines()}
    typo_line = next(n for n, line in lines.items() if "temprature" in line)
    k_line = next(n for n, line in lines.items() if line.strip().startswith("k:"))
    assert result.stdout.splitlines() == [
        f"{spec_path}:{typo_line}: model.temprature: unknown field (check the spelling)",
        f"{spec_path}:{k_line}: optimizer.k: must be a number of shots >= 0, or auto",
        f"{data}:2: label: missing field",
        f"{data}:3: not valid JSON: Expecting value",
        f"{data}:5: label: 'neutral' is not one of the choices (positive, negative)",
        f"{data}:6: review: must be a string or number",
        f"{missing}: file not found",
    ]
    assert result.stderr.strip() == "error: 7 problems found"


def test_labels_are_compared_after_the_rewards_normalisation(tmp_path):
    task = write_toy_task(tmp_path, answer={"type": "label", "choices": ["positive", "negative"]})
    task.test.write_text('{"review": "good", "label": "Positive."}\n{"review": "bad", "label": "negative"}\n')
    assert opro("validate", task.spec, "--data", task.test).stdout.strip().endswith("ok (2 examples)")


def test_invalid_yaml_is_one_problem_with_its_line(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: x\nmodel: [unclosed\n")
    result = opro("validate", spec, code=2)
    assert result.stdout.startswith(f"{spec}:") and "invalid YAML" in result.stdout
    assert result.stderr.strip() == "error: 1 problem found"


def test_data_is_checked_when_only_other_sections_of_the_spec_are_wrong(tmp_path):
    task = write_toy_task(tmp_path, model={"name": ""})
    task.test.write_text(task.test.read_text() + '{"review": "no label"}\n')
    result = opro("validate", task.spec, "--data", task.test, code=2)
    assert "model.name: String should have at least 1 character" in result.stdout
    assert f"{task.test}:31: label: missing field" in result.stdout


def test_data_is_not_checked_when_the_prompt_section_is_wrong(tmp_path):
    task = write_toy_task(tmp_path, prompt={"input": "no field"})
    result = opro("validate", task.spec, "--data", task.test, code=2)
    assert "prompt.input" in result.stdout
    assert "note: data files not checked: its prompt section has problems" in result.stderr


def test_a_spec_that_is_not_a_mapping(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("- a list\n")
    assert validate(spec, []).problems == [f"{spec}: the spec must be a YAML mapping of fields"]


def test_validate_calls_no_model_and_does_not_even_import_litellm():
    code = (
        "import sys\nfrom opro_cli.cli import app\n"
        f"try:\n    app(['validate', {str(ROOT / 'configs/sentiment.yaml')!r}, '--data', "
        f"{str(ROOT / 'datasets/sentiment_test.jsonl')!r}])\nexcept SystemExit as exc:\n    print('exit', exc.code)\n"
        "print('litellm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-2:] == ["exit 0", "False"]
