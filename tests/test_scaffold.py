"""`opro init` on datasets the project does not have: the spec it writes passes `opro validate` as written,
and its guesses (output field, input template, answer type) are the ones a person would make."""

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import toy_model
from opro_cli.artifact import load_artifact
from opro_cli.cli import app

runner = CliRunner()


def opro(*args: object, code: int = 0):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def init(tmp_path: Path, rows: list[dict], *flags: str) -> dict:
    """Scaffold a spec from `rows`, check it with `opro validate` as written, and return it parsed."""
    data = write_jsonl(tmp_path / "train.jsonl", rows)
    spec = tmp_path / "task.yaml"
    said = opro("init", "--data", data, "-o", spec, *flags).output
    assert f"wrote {spec}" in said and "opro optimize" in said
    checked = opro("validate", spec, "--data", data).output
    assert f"{spec}: ok" in checked and f"ok ({len(rows)} examples)" in checked
    return yaml.safe_load(spec.read_text(encoding="utf-8"))


def test_free_text_answers_with_two_input_fields(tmp_path):
    rows = [
        {"question": f"Who wrote book {i}?", "context": f"Book {i} was written by author {i}.", "answer": f"author {i}"}
        for i in range(12)
    ]
    spec = init(tmp_path, rows)
    assert spec["prompt"]["output"] == "answer"
    assert spec["prompt"]["input"] == "Question: {question}\nContext: {context}"
    assert spec["answer"] == {"type": "text"}
    assert spec["model"]["name"] == "local/smollm2"


def test_a_few_repeated_values_become_a_label_set_even_in_the_last_field_with_an_unusual_name(tmp_path):
    intents = ["book_flight", "cancel", "weather"]
    rows = [{"utterance": f"please do thing {i}", "intent": intents[i % 3]} for i in range(15)]
    spec = init(tmp_path, rows)
    assert spec["prompt"]["output"] == "intent"  # no answer-like name: the last field
    assert spec["answer"] == {"type": "label", "choices": sorted(intents)}
    assert "one of: book_flight, cancel, weather" in spec["prompt"]["instructions"]


def test_numeric_strings_and_numbers_become_integer_or_number(tmp_path):
    rows = [{"problem": f"What is {i} + {i * 3}?", "solution": str(i * 4)} for i in range(10)]
    assert init(tmp_path, rows)["answer"] == {"type": "integer"}
    (tmp_path / "task.yaml").unlink()
    rows = [{"problem": f"Halve {i}.", "target": i / 2 + 0.25} for i in range(10)]
    spec = init(tmp_path, rows)
    assert spec["prompt"]["output"] == "target" and spec["answer"] == {"type": "number"}


def test_class_codes_are_a_label_set_of_strings(tmp_path):
    rows = [{"text": f"sample {i}", "y": i % 2} for i in range(10)]
    spec = init(tmp_path, rows)
    assert spec["prompt"]["output"] == "y"
    assert spec["answer"] == {"type": "label", "choices": ["0", "1"]}


def test_nested_odd_and_identifier_fields_are_left_out_with_a_reason(tmp_path):
    rows = [
        {"id": i, "meta": {"source": "web"}, "input text": "x", "tags": ["a"], "prompt": f"Is {i} even?",
         "gold_label": "yes" if i % 2 == 0 else "no", "note": None if i == 3 else "n"}
        for i in range(8)
    ]
    spec = init(tmp_path, rows)
    assert spec["prompt"]["output"] == "gold_label"
    assert spec["prompt"]["input"] == "Prompt: {prompt}"
    assert spec["answer"]["choices"] == ["no", "yes"]  # YAML words stay strings
    text = (tmp_path / "task.yaml").read_text(encoding="utf-8")
    assert "'meta' not a string or number on line 1" in text
    assert "'input text' is not a plain name" in text
    assert "'note' not a string or number on line 4" in text
    assert "'id' looks like an identifier" in text


def test_many_fields_all_go_into_the_template(tmp_path):
    rows = [{**{f"feature_{k}": f"v{k}{i}" for k in range(11)}, "category": "ab"[i % 2]} for i in range(6)]
    spec = init(tmp_path, rows)
    assert spec["prompt"]["input"].count("{feature_") == 11
    assert spec["prompt"]["output"] == "category"


def test_output_field_and_model_can_be_chosen(tmp_path):
    rows = [{"label": "x", "summary": f"summary {i}", "article": f"long article {i}"} for i in range(5)]
    spec = init(tmp_path, rows, "--output-field", "summary", "--model", "openai/gpt-4o-mini")
    assert spec["prompt"]["output"] == "summary"
    assert spec["prompt"]["input"] == "Label: {label}\nArticle: {article}"
    assert spec["model"]["name"] == "openai/gpt-4o-mini"


def test_bad_data_is_one_line_with_file_and_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default -o is ./task.yaml
    data = tmp_path / "bad.jsonl"
    data.write_text('{"q": "a", "answer": "b"}\n\n{"q": "c", "answer": \n', encoding="utf-8")
    result = opro("init", "--data", data, "-o", tmp_path / "t.yaml", code=2)
    assert result.output.startswith(f"error: {data}:3: not valid JSON") and result.output.count("\n") == 1
    data.write_text('{"q": "a", "answer": "b"}\n["not", "an object"]\n', encoding="utf-8")
    assert f"{data}:2: each line must be a JSON object" in opro("init", "--data", data, code=2).output
    data.write_text("\n", encoding="utf-8")
    assert f"{data}: the dataset is empty" in opro("init", "--data", data, code=2).output
    write_jsonl(data, [{"answer": "b"}])
    assert "no input field besides 'answer'" in opro("init", "--data", data, code=2).output
    write_jsonl(data, [{"q": "a", "answer": "b"}, {"q": "c"}])
    assert f"{data}:2: answer: missing field" in opro("init", "--data", data, "--output-field", "answer", code=2).output
    assert f"{data}:1: nope: no such field" in opro("init", "--data", data, "--output-field", "nope", code=2).output
    assert not (tmp_path / "t.yaml").exists() and not (tmp_path / "task.yaml").exists()


def test_missing_directories_of_the_spec_are_created(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [{"q": "a", "answer": "b"}, {"q": "c", "answer": "d"}])
    spec = tmp_path / "specs" / "new" / "task.yaml"
    opro("init", "--data", data, "-o", spec)
    assert f"{spec}: ok" in opro("validate", spec, "--data", data).output


def test_never_overwrites(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [{"q": "a", "answer": "b"}, {"q": "c", "answer": "d"}])
    spec = tmp_path / "task.yaml"
    spec.write_text("mine\n", encoding="utf-8")
    result = opro("init", "--data", data, "-o", spec, code=2)
    assert result.output == f"error: {spec}: already exists; opro init never overwrites a file (choose another with -o)\n"
    assert spec.read_text(encoding="utf-8") == "mine\n"
    result = opro("init", "--data", data, "-o", tmp_path, code=2)  # a directory
    assert "already exists" in result.output


def test_a_scaffolded_spec_optimises_as_written(tmp_path, toy_provider):
    rows = [{"review": review, "label": label} for review, label in toy_model.synthetic_reviews(30, 0)]
    data = write_jsonl(tmp_path / "reviews.jsonl", rows)
    spec = tmp_path / "task.yaml"
    opro("init", "--data", data, "-o", spec, "--model", "toy/sentiment")
    artifact = tmp_path / "best.json"
    opro("optimize", spec, "--data", data, "-o", artifact, "--no-cache", "-q")
    assert load_artifact(artifact).scores.best_validation > 0


@pytest.mark.parametrize("name", ["sentiment_train", "topic_train"])
def test_the_project_datasets_scaffold_too(tmp_path, name):
    data = Path(__file__).parent.parent / "datasets" / f"{name}.jsonl"
    spec = tmp_path / "task.yaml"
    opro("init", "--data", data, "-o", spec)
    assert f"{spec}: ok" in opro("validate", spec, "--data", data).output
