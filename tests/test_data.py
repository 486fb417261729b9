"""JSONL loading: every bad line is reported with its line number and field."""

from pathlib import Path

import pytest
import yaml

from opro_cli.data import dataset_problems, load_dataset
from opro_cli.errors import InputError
from opro_cli.spec import TaskSpec
from toy_task import spec_dict

SPEC = TaskSpec.model_validate(spec_dict())


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_examples_and_hashes_the_file(tmp_path):
    path = write(tmp_path, '{"review": "good", "label": "positive"}\n\n{"review": "bad", "label": "negative", "x": 1}\n')
    data = load_dataset(path, SPEC)
    assert [(e.line, e.inputs, e.expected) for e in data.examples] == [
        (1, {"review": "good"}, "positive"),
        (3, {"review": "bad"}, "negative"),
    ]
    assert len(data.sha256) == 64


def test_numbers_become_text(tmp_path):
    data = load_dataset(write(tmp_path, '{"review": 42, "label": 7}\n'), SPEC)
    assert data.examples[0].inputs == {"review": "42"} and data.examples[0].expected == "7"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"review": "ok", "label": "positive"}\n{"review": "x"\n', "data.jsonl:2: not valid JSON: Expecting ',' delimiter"),
        ('{"label": "positive"}\n', "data.jsonl:1: review: missing field"),
        ('{"review": "fine"}\n', "data.jsonl:1: label: missing field"),
        ('["review"]\n', "data.jsonl:1: each line must be a JSON object"),
        ('{"review": null, "label": "positive"}\n', "data.jsonl:1: review: must be a string or number"),
        ("\n\n", "data.jsonl: the dataset is empty"),
    ],
)
def test_bad_lines(tmp_path, text, expected):
    with pytest.raises(InputError) as caught:
        load_dataset(write(tmp_path, text), SPEC)
    assert str(caught.value).endswith(expected)


def test_all_problems_are_listed(tmp_path):
    path = write(tmp_path, '{"review": "a"}\nnot json\n{"review": "b", "label": "negative"}\n{"label": "x"}\n')
    assert [p.split(":", 2)[1:] for p in dataset_problems(path, SPEC)] == [
        ["1", " label: missing field"],
        ["2", " not valid JSON: Expecting value"],
        ["4", " review: missing field"],
    ]


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_dataset(tmp_path / "none.jsonl", SPEC)


def test_shipped_datasets_match_their_specs():
    root = Path(__file__).parent.parent
    for config in sorted((root / "configs").glob("*.yaml")):
        spec = TaskSpec.model_validate(yaml.safe_load(config.read_text()))
        task = config.stem.split("_")[0]  # topic_labels.yaml uses the topic data
        # A judged task's data is written by hand and each answer costs a judge call: a smaller set.
        least = 6 if spec.reward.type == "judge" else 50
        for split in ("train", "test"):
            assert len(load_dataset(root / "datasets" / f"{task}_{split}.jsonl", spec)) >= least
