"""`load_prompt`: the measured prompt as an application uses it, for every answer kind. What it sends must be what
`opro eval` sent (the same cache keys: eval's answers are found, nothing is asked again), what it reads must be
what eval read, and loading must stay cheap. Through litellm for real: the in-process toy provider, the loopback
server, the embedded model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from artifact_factory import ONE_WORD, TWO_SHOTS, make_artifact
from opro_cli import load_prompt
from opro_cli.artifact import load_artifact
from opro_cli.cli import app
from opro_cli.errors import InputError
from opro_cli.lm.cache import ResponseCache, call_key
from server_task import KEY_ENV, use_server_env, write_server_task
from test_reward_cli import BOOKING_FIELDS, SENTIMENT_PROMPT, booking_prompt, make_task

ROOT = Path(__file__).resolve().parent.parent

# Every answer kind: (model, prompt, answer spec).
KINDS: dict[str, tuple[str, dict[str, Any], dict[str, Any] | None]] = {
    "label with schema": ("toy/sentiment", SENTIMENT_PROMPT, {"type": "label", "choices": "infer", "structured": "always"}),
    "label stated in the prompt": ("toy/sentiment", SENTIMENT_PROMPT, {"type": "label", "choices": "infer", "structured": "never"}),
    "extra JSON fields": ("toy/sentiment", SENTIMENT_PROMPT,
                          {"type": "label", "choices": "infer", "fields": {"reasoning": "why, in a few words"}}),
    "integer": ("toy/booking", booking_prompt("total"), {"type": "integer"}),
    "several fields": ("toy/booking", booking_prompt(),
                       {"outputs": {"nights": {"type": "integer"}, "destination": {"type": "label", "choices": "infer"}}}),
}


def opro(*args: Any, code: int = 0) -> Any:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("kind", KINDS)
def test_requests_and_answers_are_evals_for_every_answer_kind(tmp_path, toy_provider, kind):
    model, prompt, answer = KINDS[kind]
    task = make_task(tmp_path, model, prompt, answer=answer)
    cache = tmp_path / "cache"
    opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "--cache-dir", cache, "-q")
    opro("eval", task.artifact, "--data", task.test, "--cache-dir", cache, "-q", "-o", tmp_path / "eval.jsonl")
    scored = read_jsonl(tmp_path / "eval.jsonl")
    rows = read_jsonl(task.test)
    p = load_prompt(task.artifact)
    store = ResponseCache(cache)
    for row, result in zip(rows, scored):
        request = p.request(row)
        assert request["messages"] == p.messages(row)
        params = {k: v for k, v in request.items() if k not in ("model", "messages")}
        key, expected_params = call_key(p.model, request["messages"], response_format=params.get("response_format"),
                                        temperature=params.get("temperature"))
        assert params == expected_params and request["model"] == model
        stored = store.get(key)
        assert stored is not None, f"eval never sent the request load_prompt builds for {row}"
        reading = p.read(stored["text"])
        assert reading.answer == p.fmt.typed(result["answer"])  # eval's answer, typed as an app gets it
        assert (reading.error is None) == (result["answer"] is not None)
    if kind == "integer":
        assert all(isinstance(p.parse(s), int) for s in ("312", "about 312 euros"))
    if kind == "several fields":
        assert p.parse('{"person": "Anna", "destination": "Paris", "nights": "3"}') == {
            "person": "Anna", "destination": "Paris", "nights": 3}
        assert set(BOOKING_FIELDS) == set(p.fmt.typed(json.dumps({n: "x" for n in BOOKING_FIELDS})))
    if kind == "label with schema":
        assert p.request(rows[0])["response_format"]["json_schema"]["schema"]["properties"]["answer"]["enum"]
    if kind == "extra JSON fields":
        assert p.read('{"reasoning": "loved it", "answer": "positive"}').fields == {"reasoning": "loved it"}


def test_complete_sends_the_scored_request_through_the_loopback_server(tmp_path, fault_server, monkeypatch):
    """The app's call (key from the spec's variable, api_base) carries exactly eval's messages and parameters."""
    use_server_env(monkeypatch)
    server = fault_server()
    task = write_server_task(tmp_path, server, model={"max_tokens": 12, "top_p": 0.9})
    make_artifact(task.spec, task.artifact, ONE_WORD, TWO_SHOTS)
    opro("eval", task.artifact, "--data", task.test, "--no-cache", "-q", "-o", tmp_path / "eval.jsonl")
    sent_by_eval = {json.dumps(body["messages"]): body for body in server.bodies}
    server.reset_counters()
    p = load_prompt(task.artifact)
    rows = read_jsonl(task.test)
    answers = [p.complete(row) for row in rows[:5]]
    assert answers == [r["answer"] for r in read_jsonl(tmp_path / "eval.jsonl")[:5]]
    for row, body in zip(rows, server.bodies):
        assert body["messages"] == p.messages(row)
        scored = sent_by_eval[json.dumps(body["messages"])]
        for name in ("temperature", "max_tokens", "top_p"):
            assert body[name] == scored[name] == p.request(row)[name]
    assert KEY_ENV not in json.dumps(p.request(rows[0])) and "sk-" not in json.dumps(p.request(rows[0]))


def test_acomplete_answers_from_inside_an_event_loop(tmp_path, toy_provider):
    import asyncio

    task = make_task(tmp_path, "toy/sentiment", SENTIMENT_PROMPT, answer={"type": "label", "choices": ["negative", "positive"]})
    make_artifact(task.spec, task.artifact, ONE_WORD, TWO_SHOTS)
    p = load_prompt(task.artifact)

    async def both() -> list[Any]:
        return list(await asyncio.gather(p.acomplete({"review": "great fun"}), p.acomplete({"review": "dull"})))

    assert asyncio.run(both()) == ["positive", "negative"]


def test_loading_and_rendering_import_no_litellm(tmp_path):
    task = make_task(tmp_path, "toy/sentiment", SENTIMENT_PROMPT)
    make_artifact(task.spec, task.artifact, ONE_WORD, TWO_SHOTS)
    code = ("import sys, opro_cli; from opro_cli import load_prompt; p = load_prompt(sys.argv[1]); "
            "p.messages({'review': 'x'}); p.request({'review': 'x'}); p.parse('positive'); "
            "print(sorted(m for m in ('litellm', 'openai', 'httpx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(task.artifact)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_row_missing_a_field_names_it_and_bad_artifacts_are_one_error(tmp_path):
    task = make_task(tmp_path, "toy/sentiment", SENTIMENT_PROMPT)
    make_artifact(task.spec, task.artifact, ONE_WORD)
    p = load_prompt(task.artifact)
    assert p.input_fields == ["review"]
    with pytest.raises(InputError, match="review: missing field"):
        p.messages({"text": "great"})
    with pytest.raises(InputError, match="review: must be a string or number"):
        p.request({"review": None})
    assert p.messages({"review": 3})[-1]["content"] == "Review: 3"  # numbers as a data file's line gives them
    raw = json.loads(task.artifact.read_text())
    (tmp_path / "future.json").write_text(json.dumps({**raw, "schema_version": 2}))
    with pytest.raises(InputError, match="artifact schema 2 is not supported"):
        load_prompt(tmp_path / "future.json")
    (tmp_path / "cut.json").write_text(task.artifact.read_text()[:200])
    with pytest.raises(InputError, match="cut.json: not a readable JSON artifact"):
        load_prompt(tmp_path / "cut.json")
    del raw["shots"]
    (tmp_path / "damaged.json").write_text(json.dumps(raw))
    with pytest.raises(InputError, match="damaged.json: not an opro artifact: shots"):
        load_prompt(tmp_path / "damaged.json")


def test_answering_never_loads_a_python_rewards_file(tmp_path, toy_provider):
    """An app has the artifact, not the reward's file: loading and answering must not need it."""
    (tmp_path / "my_reward.py").write_text("def score(answer, expected, row):\n    return answer == expected\n")
    task = make_task(tmp_path, "toy/sentiment", SENTIMENT_PROMPT,
                     reward={"type": "python", "function": "my_reward.py:score"})
    make_artifact(task.spec, task.artifact, ONE_WORD, TWO_SHOTS)
    (tmp_path / "my_reward.py").unlink()
    assert load_prompt(task.artifact).complete({"review": "great fun"}) == "positive"


SHIPPED = {"sentiment.yaml": "sentiment_test.jsonl", "topic.yaml": "topic_test.jsonl",
           "topic_labels.yaml": "topic_test.jsonl"}


def resolved_artifact(spec_path: Path, path: Path, instructions: str, rows: list[dict[str, Any]]) -> Path:
    """A hand-made artifact whose answer format is resolved as `opro optimize` resolves it for the spec's model."""
    from opro_cli.scoring.runner import resolve_format
    from opro_cli.spec import load_spec

    spec = load_spec(spec_path)
    make_artifact(spec_path, path, instructions)
    fmt = resolve_format(spec, spec.model, sorted({str(row[spec.prompt.output_fields[0]]) for row in rows}))
    raw = json.loads(path.read_text())
    raw["answer_format"] = {"type": fmt.type, "choices": list(fmt.choices), "fields": fmt.fields,
                            "structured": fmt.structured}
    path.write_text(json.dumps(raw))
    return path


@pytest.mark.local_model
@pytest.mark.parametrize("config", SHIPPED)
def test_a_prompt_scored_on_the_embedded_model_answers_as_eval_did(tmp_path, config):
    """Every shipped config (the embedded model; a schema by grammar for the label sets)."""
    pytest.importorskip("xllamacpp")
    rows = read_jsonl(ROOT / "datasets" / SHIPPED[config])[:3]
    data = tmp_path / "three.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    artifact = resolved_artifact(ROOT / "configs" / config, tmp_path / "best.json", "Answer in one word.", rows)
    opro("eval", artifact, "--data", data, "--cache-dir", tmp_path / "cache", "-q", "-o", tmp_path / "eval.jsonl")
    p = load_prompt(load_artifact(artifact))
    assert p.model.name.startswith("local/")
    assert ("response_format" in p.request(rows[0])) == p.fmt.structured
    assert [p.complete(row) for row in rows] == [r["answer"] for r in read_jsonl(tmp_path / "eval.jsonl")]


@pytest.mark.local_model
def test_readmes_use_the_prompt_section_runs_as_shown(tmp_path, monkeypatch):
    """README's "Use the prompt": its Python and its `opro predict` line, in a folder laid out as the demo leaves
    it (runs/topic.json; the head of the topic test file under its own name), on the embedded model."""
    import re
    import shlex

    pytest.importorskip("xllamacpp")
    pytest.importorskip("mlflow", reason="needs the 'mlflow' extra")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Use the prompt", 1)[1].split("\n## ", 1)[0]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPRO_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "datasets").mkdir()
    rows = read_jsonl(ROOT / "datasets" / "topic_test.jsonl")[:4]
    (tmp_path / "datasets" / "topic_test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    resolved_artifact(ROOT / "configs" / "topic.yaml", tmp_path / "runs" / "topic.json", "Name the topic.", rows)
    for block in re.findall(r"```python\n(.*?)```", section, re.DOTALL):
        exec(compile(block, "README.md", "exec"), {})  # noqa: S102 - README's own example
    for line in (line for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL) for line in block.splitlines()):
        opro(*shlex.split(line)[1:])
    assert len(read_jsonl(tmp_path / "runs" / "predictions.jsonl")) == len(rows)
    assert (tmp_path / "prompts" / "topic.prompt").exists()
    import mlflow

    assert mlflow.genai.load_prompt("prompts:/topic@production").format(**rows[0])[-1]["content"] == \
        load_prompt("runs/topic.json").messages(rows[0])[-1]["content"]
