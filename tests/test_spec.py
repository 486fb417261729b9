"""Spec loading: valid specs load, every mistake is one line naming file, line and field."""

from pathlib import Path

import pytest
import yaml

from opro_cli.errors import InputError
from opro_cli.spec import load_spec
from toy_task import spec_dict

EXAMPLES = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "task.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_shipped_examples_load(path):
    spec = load_spec(path)
    assert spec.model.name == "local/smollm2"
    assert spec.proposer is spec.model


def test_minimal_spec_has_documented_defaults(tmp_path):
    spec = load_spec(write(tmp_path, yaml.safe_dump(spec_dict(optimizer={}))))
    assert (spec.optimizer.k, spec.optimizer.k_best) == ("auto", 10)
    assert spec.reward.type == "exact_match"
    assert spec.prompt.input_fields == ["review"]


def test_model_may_be_a_plain_string(tmp_path):
    spec = load_spec(write(tmp_path, yaml.safe_dump(spec_dict(model="openai/gpt-4o-mini"))))
    assert spec.model.name == "openai/gpt-4o-mini"


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(InputError) as caught:
        load_spec(write(tmp_path, text))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_unknown_key_names_file_line_and_field(tmp_path):
    text = yaml.safe_dump(spec_dict(), sort_keys=False).replace("  batch_size: 8", "  batch_sise: 8")
    line = text.splitlines().index("  batch_sise: 8") + 1
    message = error_of(tmp_path, text)
    assert message == f"{tmp_path / 'task.yaml'}:{line}: optimizer.batch_sise: unknown field (check the spelling)"


def test_invalid_value_is_reported_with_its_line(tmp_path):
    text = yaml.safe_dump(spec_dict(optimizer={"k": -1}), sort_keys=False)
    message = error_of(tmp_path, text)
    assert "optimizer.k" in message and "must be a number of shots >= 0, or auto" in message
    assert f":{text.splitlines().index('  k: -1') + 1}:" in message


def test_missing_required_field(tmp_path):
    raw = spec_dict()
    del raw["prompt"]["output"]
    assert error_of(tmp_path, yaml.safe_dump(raw)).endswith("prompt.output: required field is missing")


def test_bad_yaml_names_the_line(tmp_path):
    message = error_of(tmp_path, "name: x\nmodel: [unclosed\nprompt: {}\n")
    assert "invalid YAML" in message and "task.yaml:" in message


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_spec(tmp_path / "nope.yaml")


def test_invalid_regex_is_rejected_at_load(tmp_path):
    message = error_of(tmp_path, yaml.safe_dump(spec_dict(reward={"type": "regex", "pattern": "(unclosed"})))
    assert "reward" in message and "invalid regex" in message


def test_regex_group_must_exist(tmp_path):
    message = error_of(tmp_path, yaml.safe_dump(spec_dict(reward={"type": "regex", "pattern": "(a)", "group": 2})))
    assert "group 2" in message


def test_label_type_needs_choices(tmp_path):
    assert "needs 'choices'" in error_of(tmp_path, yaml.safe_dump(spec_dict(answer={"type": "label"})))


def test_template_must_name_a_field(tmp_path):
    raw = spec_dict()
    raw["prompt"]["input"] = "no fields here"
    assert "names no input field" in error_of(tmp_path, yaml.safe_dump(raw))


def test_secrets_are_refused_in_the_spec(tmp_path):
    raw = spec_dict(model={"name": "openai/gpt-4o-mini", "api_key": "sk-123"})
    assert "model.api_key: unknown field" in error_of(tmp_path, yaml.safe_dump(raw))
    raw = spec_dict(model={"name": "openai/gpt-4o-mini", "extra": {"api_key": "sk-123"}})
    assert "environment" in error_of(tmp_path, yaml.safe_dump(raw))
