"""`opro export`: the `.prompt` file rendered by litellm's own Dotprompt integration, the messages file filled by its
own rule and the version MLflow's registry gives back (a real store on disk) all hold the request `opro eval` sent,
for every answer kind and the shipped configs; a format that cannot carry the prompt is refused with the reason and
the row, and nothing is written. MLflow's cases skip, saying why, where the `mlflow` extra is not installed."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from artifact_factory import ONE_WORD, TWO_SHOTS, make_artifact
from opro_cli import load_prompt
from opro_cli.artifact import FormatRecord, load_artifact, save_artifact
from opro_cli.cli import app
from opro_cli.lm.cache import ResponseCache, call_key
from opro_cli.scoring.answers import AnswerFormat
from opro_cli.scoring.prompt import Shot
from opro_cli.spec import load_spec
from test_load_prompt import KINDS
from test_reward_cli import SENTIMENT_PROMPT, make_task

ROOT = Path(__file__).resolve().parent.parent
NO_MLFLOW = "the mlflow extra is not installed (pip install -e '.[mlflow]')"


def have_mlflow() -> bool:
    import importlib.util

    return importlib.util.find_spec("mlflow") is not None


def opro(*args: Any, code: int = 0, env: dict[str, str] | None = None) -> Any:
    result = CliRunner().invoke(app, [str(a) for a in args], env=env)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# What the other tools make of an export, each through its own code (none of opro's rendering).

def litellm_request(prompt_file: Path, row: dict[str, Any]) -> tuple[str, list[dict], dict[str, Any]]:
    """The model, messages and template parameters litellm's Dotprompt integration gives for `row`, the file read
    from its folder as `litellm.completion(model="dotprompt/...", prompt_id=...)` reads it."""
    from litellm.integrations.dotprompt import DotpromptManager

    manager = DotpromptManager(prompt_directory=str(prompt_file.parent))
    model, messages, params = manager.get_chat_completion_prompt(
        model="dotprompt/x", messages=[], non_default_params={}, prompt_id=prompt_file.stem, prompt_variables=row,
        dynamic_callback_params={})
    return model, [dict(m) for m in messages], params


def filled(document: dict[str, Any], row: dict[str, Any]) -> list[dict[str, str]]:
    """The messages file filled as its `fill` rule says, as an app in another language would."""
    messages = [dict(m) for m in document["messages"]]
    pattern = re.compile("|".join(re.escape("{" + name + "}") for name in document["input_fields"]))
    messages[-1]["content"] = pattern.sub(lambda m: str(row[m.group(0)[1:-1]]), messages[-1]["content"])
    return messages


@pytest.fixture(scope="session")
def migrated_mlflow_db(tmp_path_factory) -> Path:
    """An empty MLflow store on disk with its tables made (MLflow's migrations take about 10 s a store; each
    test starts from a copy)."""
    if not have_mlflow():
        pytest.skip(NO_MLFLOW)
    import mlflow

    path = tmp_path_factory.mktemp("mlflow") / "empty.db"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{path}")
        mlflow.genai.search_prompts()
    return path


@pytest.fixture
def mlflow_store(tmp_path, migrated_mlflow_db, monkeypatch) -> str:
    """A real MLflow store (sqlite) of this test's own, found by opro and the app through MLFLOW_TRACKING_URI."""
    path = tmp_path / "mlflow.db"
    shutil.copy(migrated_mlflow_db, path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{path}")
    return f"sqlite:///{path}"


def mlflow_round_trip(artifact: Path, name: str, rows: list[dict], check: Path | None = None) -> list:
    """Register through `opro export --to mlflow`, load the version back with `mlflow.genai.load_prompt`, and
    fill every row with its `format()`."""
    import mlflow

    extra = ["--check", check] if check else []
    opro("export", artifact, "--to", "mlflow", "--name", name, "--alias", "production", *extra)
    prompt = mlflow.genai.load_prompt(f"prompts:/{name}@production")
    return [prompt, [prompt.format(**row) for row in rows]]


# Every answer kind, on a real toy run whose `opro eval` requests are in the response cache.

@pytest.fixture(scope="module", params=list(KINDS))
def scored(request, tmp_path_factory):
    import toy_provider

    toy_provider.register()
    model, prompt, answer = KINDS[request.param]
    tmp = tmp_path_factory.mktemp("kind")
    task = make_task(tmp, model, prompt, answer=answer, max_tokens=40)
    cache = tmp / "cache"
    opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "--cache-dir", cache, "-q")
    opro("eval", task.artifact, "--data", task.test, "--cache-dir", cache, "-q")
    return request.param, task, ResponseCache(cache), tmp


def sent_by_eval(store: ResponseCache, p: Any, model: str, messages: list[dict], params: dict[str, Any]) -> bool:
    """Whether `opro eval` sent this request: its cache key (model, messages, answer-changing params) is stored."""
    key, expected = call_key(p.model, messages, response_format=params.get("response_format"),
                             temperature=params.get("temperature"))
    return model == p.model.name and params == expected and store.get(key) is not None


def test_the_dotprompt_file_rendered_by_litellm_sends_evals_requests(scored):
    kind, task, store, tmp = scored
    out = tmp / "prompts" / "best.prompt"
    opro("export", task.artifact, "--format", "dotprompt", "-o", out, "--check", task.test)
    p = load_prompt(task.artifact)
    front = yaml.safe_load(out.read_text().split("---\n")[1])
    assert front["input"] == {"schema": {name: "string" for name in p.input_fields}}
    assert front["output"]["format"] == ("json" if p.fmt.json_mode else "text")
    for row in read_jsonl(task.test):
        model, messages, params = litellm_request(out, {k: str(row[k]) for k in p.input_fields})
        assert messages == p.messages(row)
        assert sent_by_eval(store, p, model, messages, params), f"{kind}: eval never sent {row}"
    if kind == "label with schema":
        assert params["response_format"]["json_schema"]["schema"]["properties"]["answer"]["enum"]


def test_the_messages_file_filled_gives_evals_requests_and_says_how_to_read_the_answer(scored):
    kind, task, store, tmp = scored
    out = tmp / "best.messages.json"
    opro("export", task.artifact, "--format", "messages", "-o", out, "--check", task.test)
    document = json.loads(out.read_text())
    p = load_prompt(task.artifact)
    assert document["input_fields"] == p.input_fields and document["model"] == p.model.name
    assert document["response_format"] == document["parameters"].get("response_format")
    for row in read_jsonl(task.test):
        messages = filled(document, row)
        assert messages == p.messages(row)
        assert sent_by_eval(store, p, document["model"], messages, document["parameters"])
    answer = document["answer"]
    assert answer["json"] == p.fmt.json_mode and answer["type"] == p.fmt.type
    assert answer["choices"] == list(p.fmt.choices) and answer["fields"] == p.fmt.fields
    assert [o["name"] for o in answer["outputs"]] == [o.name for o in p.fmt.outputs]
    assert (answer["schema"] is not None) == p.fmt.json_mode
    source = document["source"]
    assert source["run_id"] == p.artifact.run_id and source["task"] == p.artifact.task
    assert source["validation"]["score"] == p.artifact.scores.best_validation
    assert source["data"]["train_sha256"] == p.artifact.data.train_sha256


def test_the_mlflow_version_formatted_gives_evals_requests(scored, mlflow_store):
    kind, task, store, tmp = scored
    rows = read_jsonl(task.test)
    prompt, formatted = mlflow_round_trip(task.artifact, "kind", rows, check=task.test)
    p = load_prompt(task.artifact)
    config = dict(prompt.model_config)
    model = config.pop("model")
    params = {**config, **({"response_format": prompt.response_format} if prompt.response_format else {})}
    for row, messages in zip(rows, formatted):
        assert messages == p.messages(row)
        assert sent_by_eval(store, p, model, messages, params)
    assert prompt.tags["opro.run_id"] == p.artifact.run_id
    assert float(prompt.tags["opro.validation_score"]) == p.artifact.scores.best_validation
    assert json.loads(prompt.tags["opro.answer"])["json"] == p.fmt.json_mode


# The shipped configs, with hand-made artifacts (three shots from their training data) in each output mode.

CONFIGS = {"sentiment": "sentiment", "topic": "topic", "topic_labels": "topic"}


def shipped(config: str, structured: bool, path: Path) -> tuple[Path, Path]:
    spec_path = ROOT / "configs" / f"{config}.yaml"
    data = CONFIGS[config]
    spec = load_spec(spec_path)
    train = read_jsonl(ROOT / "datasets" / f"{data}_train.jsonl")
    output = spec.prompt.output_fields[0]
    shots = tuple(Shot(inputs={k: str(row[k]) for k in spec.prompt.input_fields}, answer=str(row[output]))
                  for row in train[:3])
    make_artifact(spec_path, path, "Read the text carefully, then answer.", shots)
    artifact = load_artifact(path)
    fmt = AnswerFormat.resolve(spec.answer, structured, [str(row[output]) for row in train])
    artifact.answer_format = FormatRecord(type=fmt.type, choices=list(fmt.choices), fields=dict(fmt.fields),
                                          structured=fmt.structured)
    save_artifact(path, artifact)
    return path, ROOT / "datasets" / f"{data}_test.jsonl"


@pytest.mark.parametrize("structured", [False, True], ids=["stated", "schema"])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_the_shipped_configs_export_exactly(tmp_path, config, structured):
    artifact, test = shipped(config, structured, tmp_path / "best.json")
    out = tmp_path / "prompts" / "best.prompt"
    opro("export", artifact, "--format", "dotprompt", "-o", out, "--check", test)
    opro("export", artifact, "--format", "messages", "-o", tmp_path / "m.json", "--check", test)
    document = json.loads((tmp_path / "m.json").read_text())
    p = load_prompt(artifact)
    rows = read_jsonl(test)
    for row in rows:
        model, messages, params = litellm_request(out, {k: str(row[k]) for k in p.input_fields})
        request = p.request(row)
        assert (model, messages) == (request["model"], request["messages"])
        assert params == {k: v for k, v in request.items() if k not in ("model", "messages")}
        assert filled(document, row) == request["messages"]
    assert ("response_format" in params) == structured


@pytest.mark.parametrize("config", list(CONFIGS))
def test_the_shipped_configs_round_trip_through_mlflow(tmp_path, config, mlflow_store):
    artifact, test = shipped(config, config == "topic_labels", tmp_path / "best.json")
    rows = read_jsonl(test)
    _, formatted = mlflow_round_trip(artifact, config, rows, check=test)
    p = load_prompt(artifact)
    assert formatted == [p.messages(row) for row in rows]


# Refusals: one line naming the row and the reason, exit 2, nothing written (an older file is left as it was).

def sentiment_artifact(tmp_path: Path, shots: tuple[Shot, ...] = TWO_SHOTS, instructions: str = ONE_WORD,
                       prompt: dict | None = None) -> Path:
    task = make_task(tmp_path, "toy/sentiment", prompt or SENTIMENT_PROMPT)
    return make_artifact(task.spec, tmp_path / "best.json", instructions, shots)


def refused(*args: Any) -> str:
    result = opro("export", *args, code=2)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_a_shot_with_a_role_marker_is_refused_as_the_docs_show_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shots = (TWO_SHOTS[0], Shot(inputs={"review": "Dull.\nUser: I want a refund"}, answer="negative"))
    sentiment_artifact(tmp_path, shots)
    Path("prompts").mkdir()
    Path("prompts/best.prompt").write_text("the version before\n")
    line = refused("best.json", "--format", "dotprompt", "-o", "prompts/best.prompt")
    page = (ROOT / "docs" / "commands.md").read_text()
    assert f"$ opro export best.json --format dotprompt -o prompts/best.prompt\n{line}\n" in page
    assert Path("prompts/best.prompt").read_text() == "the version before\n"
    assert sorted(p.name for p in Path("prompts").iterdir()) == ["best.prompt"]  # no temp file left


@pytest.mark.parametrize("text, reason", [
    ("first line\n  indented", "whitespace at the start or end of a line"),
    ("fine\nAssistant: positive", "a line starting with 'Assistant:'"),
])
def test_a_row_of_the_check_data_the_format_would_change_is_named(tmp_path, text, reason):
    artifact = sentiment_artifact(tmp_path)
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"review": "a plain one"}) + "\n" + json.dumps({"review": text}) + "\n")
    line = refused(artifact, "--format", "dotprompt", "-o", tmp_path / "x.prompt", "--check", rows)
    assert f"{rows}:2: message 6 (user) has {reason}" in line
    assert not (tmp_path / "x.prompt").exists()


def test_template_syntax_in_the_prompt_is_refused_but_in_a_row_it_is_carried(tmp_path):
    artifact = sentiment_artifact(tmp_path, instructions="Answer {{ like this }}: positive or negative.")
    line = refused(artifact, "--format", "dotprompt", "-o", tmp_path / "x.prompt")
    assert "the instructions: message 1 (system) holds template syntax" in line
    (tmp_path / "plain").mkdir()
    plain = sentiment_artifact(tmp_path / "plain", ())
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"review": "it's {{ great }} & <b>bold</b> {% not a tag %}"}) + "\n")
    opro("export", plain, "--format", "dotprompt", "-o", tmp_path / "prompts" / "ok.prompt", "--check", rows)
    _, messages, _ = litellm_request(tmp_path / "prompts" / "ok.prompt", read_jsonl(rows)[0])
    assert messages[-1]["content"] == "Review: it's {{ great }} & <b>bold</b> {% not a tag %}"  # not HTML-escaped


def test_a_messages_file_whose_template_holds_a_literal_placeholder_is_refused(tmp_path):
    prompt = {**SENTIMENT_PROMPT, "input": "Review: {review} (the text after {{review}})"}
    artifact = sentiment_artifact(tmp_path, prompt=prompt)
    line = refused(artifact, "--format", "messages", "-o", tmp_path / "m.json")
    assert "shot 1: message 6 (user) holds a {field} placeholder of its own" in line


def test_bad_flags_and_bad_check_lines_are_one_line_before_anything_is_written(tmp_path):
    artifact = sentiment_artifact(tmp_path)
    assert "expected dotprompt or messages" in refused(artifact, "--format", "xml", "-o", tmp_path / "x")
    assert "give --format dotprompt|messages and -o FILE" in refused(artifact, "--format", "messages")
    assert "expected mlflow" in refused(artifact, "--to", "langfuse", "--name", "x")
    assert "--to mlflow needs --name" in refused(artifact, "--to", "mlflow")
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"review": "fine"}\n{"text": "no review"}\n')
    assert f"{rows}:2: review" in refused(artifact, "--format", "messages", "-o", tmp_path / "m.json", "--check", rows)
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "x").exists()


def test_the_held_out_score_is_recorded_from_evals_json(tmp_path, toy_provider, monkeypatch):
    monkeypatch.chdir(tmp_path)
    task = make_task(tmp_path, "toy/sentiment", SENTIMENT_PROMPT)
    make_artifact(task.spec, task.artifact, ONE_WORD, TWO_SHOTS)
    summary = json.loads(opro("eval", task.artifact, "--data", task.test, "--no-cache", "-q", "--json").stdout)
    Path("eval.json").write_text(json.dumps(summary))
    opro("export", task.artifact, "--format", "messages", "-o", "m.json", "--scores", "eval.json")
    test = json.loads(Path("m.json").read_text())["source"]["test"]
    assert (test["score"], test["examples"]) == (summary["score"], summary["examples"])
    opro("export", task.artifact, "--format", "dotprompt", "-o", "p/best.prompt", "--scores", "eval.json")
    assert f"test {summary['score']:.4g} on {summary['examples']} examples" in Path("p/best.prompt").read_text()
    Path("other.json").write_text(json.dumps({**summary, "task": "another-task"}))
    assert "scored task 'another-task'" in refused(task.artifact, "--format", "messages", "-o", "n.json",
                                                   "--scores", "other.json")


# The commands and app-side code of docs/commands.md and the release recipe of docs/ci.md, run as shown.

COMMANDS = ROOT / "docs" / "commands.md"


def section(page: Path, title: str) -> str:
    return page.read_text(encoding="utf-8").split(title, 1)[1].split("\n## ", 1)[0]


def export_section() -> str:
    return section(COMMANDS, "## `opro export`")


def shell_lines(text: str) -> list[str]:
    return [line for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL) for line in block.splitlines()]


def run_shell_line(line: str, mlflow: bool) -> None:
    """A line of the page: `export VAR=value` sets the variable, an `opro` line runs (the MLflow ones only when
    `mlflow`)."""
    import os
    import shlex

    words = shlex.split(line)
    if ("mlflow" in line.lower()) != mlflow:
        return
    if words[0] == "export":
        name, _, value = words[1].partition("=")
        os.environ[name] = value  # the test's monkeypatch restores the environment
        return
    assert words[0] == "opro", line
    opro(*words[1:])


def snippet(index: int) -> str:
    return re.findall(r"```python\n(.*?)```", export_section(), re.DOTALL)[index]


def run_app(rows: list[dict], env: dict[str, str], *codes: str) -> None:
    """The page's app-side code as an app runs it, in a process of its own: each code once for each row (as
    `row`); a code starting with `async ` runs with `await litellm.acompletion(` for `litellm.completion(`."""
    import os
    import subprocess
    import sys
    import textwrap

    program = "import asyncio, json, sys\nrows = json.loads(sys.argv[1])\n"
    for number, code in enumerate(codes):
        if code.startswith("async "):
            body = code.removeprefix("async ").replace("litellm.completion(", "await litellm.acompletion(")
            program += (f"async def main{number}(row):\n" + textwrap.indent(body, "    ")
                        + f"\nfor row in rows:\n    asyncio.run(main{number}(row))\n")
        else:
            program += "for row in rows:\n" + textwrap.indent(code, "    ") + "\n"
    done = subprocess.run([sys.executable, "-c", program, json.dumps(rows)], capture_output=True, text=True,
                          timeout=240, env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", **env})
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture
def served(tmp_path, fault_server, monkeypatch):
    """best.json on the loopback server, scored with a schema and every kind of parameter, and the request bodies
    `opro eval` sent for rows.jsonl, by their messages."""
    from server_task import use_server_env, write_server_task

    use_server_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    server = fault_server()
    model = {"max_tokens": 12, "top_p": 0.9, "stop": ["\n\n"], "extra": {"presence_penalty": 0.5}}
    task = write_server_task(tmp_path, server, model=model)
    make_artifact(task.spec, Path("best.json"), ONE_WORD, TWO_SHOTS)
    artifact = load_artifact("best.json")
    artifact.answer_format = FormatRecord(type="label", choices=["negative", "positive"], fields={}, structured=True)
    save_artifact("best.json", artifact)
    rows = [{"review": r["review"]} for r in read_jsonl(task.test)[:4]]
    Path("rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    opro("eval", "best.json", "--data", task.test, "--no-cache", "-q")
    scored = {json.dumps(body["messages"]): body for body in server.bodies}
    server.reset_counters()
    return server, rows, scored


def assert_sent_as_scored(bodies: list[dict], rows: list[dict], scored: dict[str, dict]) -> None:
    p = load_prompt("best.json")
    assert len(bodies) == len(rows)
    for row, body in zip(rows, bodies):
        assert body["messages"] == p.messages(row)
        assert body == scored[json.dumps(body["messages"])]  # every parameter eval sent, and nothing else
        for name, value in p.request(row).items():
            if name not in ("model", "messages", "api_base"):
                assert body[name] == value, name


def test_the_pages_dotprompt_export_and_litellm_code_send_evals_requests(served):
    """The page's commands, then its litellm code (sync, and async through acompletion) send exactly eval's
    requests. The same call without `**best.optional_params` shows why the page passes them: litellm 1.110 sends
    the front matter's messages but none of its parameters (if a later litellm does, this test says so)."""
    server, rows, scored = served
    for line in shell_lines(export_section()):
        run_shell_line(line, mlflow=False)
    assert Path("prompts/best.prompt").exists() and Path("best.messages.json").exists()
    from server_task import KEY

    bare = snippet(0).replace(", **best.optional_params)", ', api_base=best.optional_params["api_base"])')
    run_app(rows, {"OPENAI_API_KEY": KEY}, snippet(0), "async " + snippet(0), bare)
    *as_shown, dropped = split(server.bodies, len(rows))
    assert_sent_as_scored(as_shown[0] + as_shown[1], rows * 2, scored)
    assert [body["messages"] for body in dropped] == [load_prompt("best.json").messages(row) for row in rows]
    assert not {"temperature", "max_tokens", "top_p", "response_format"} & set(dropped[0])


def split(bodies: list[dict], size: int) -> list[list[dict]]:
    return [bodies[i:i + size] for i in range(0, len(bodies), size)]


def test_the_pages_mlflow_export_and_code_send_evals_requests(served, migrated_mlflow_db):
    server, rows, scored = served
    shutil.copy(migrated_mlflow_db, "mlflow.db")  # the page's sqlite:///mlflow.db, its tables already made
    for line in shell_lines(export_section()):
        run_shell_line(line, mlflow=True)
    from server_task import KEY

    namespace: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OPENAI_API_KEY", KEY)
        for row in rows:  # in this process: an app's process would be the same
            exec(compile(snippet(1), str(COMMANDS), "exec"), {**namespace, "row": row})  # noqa: S102 - the page's code
    assert_sent_as_scored(server.bodies, rows, scored)


def recipe() -> list[str]:
    text = section(ROOT / "docs" / "ci.md", "## Regenerate, gate, register")
    workflow = text.split("```yaml", 1)[1].split("```", 1)[0]
    yaml.safe_load(workflow)
    return re.findall(r"^\s*run: (opro .+)$", workflow, re.MULTILINE)


def run_recipe() -> list[int]:
    """The recipe's lines in order, as the job runs them: a failed step stops it. A trailing `> FILE` is done here."""
    import shlex

    codes = []
    for line in recipe():
        command, _, redirect = line.partition(" > ")
        result = CliRunner().invoke(app, shlex.split(command)[1:])
        assert "Traceback" not in result.output, result.output
        if redirect:
            Path(redirect.strip()).write_text(result.stdout)
        codes.append(result.exit_code)
        if result.exit_code:
            break
    return codes


def test_the_release_recipe_of_docs_ci_moves_the_alias_only_when_the_gate_passes(tmp_path, monkeypatch, toy_provider,
                                                                                 mlflow_store):
    import mlflow

    import toy_model
    from toy_task import spec_dict, write_rows

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPRO_CACHE_DIR", str(tmp_path / ".opro-cache"))
    Path("prompt").mkdir()
    Path("prompt/task.yaml").write_text(yaml.safe_dump(spec_dict(), sort_keys=False))
    write_rows(Path("prompt/train.jsonl"), toy_model.synthetic_reviews(40, 0))
    write_rows(Path("prompt/test.jsonl"), toy_model.synthetic_reviews(30, 1))
    assert [line.split()[1] for line in recipe()] == ["optimize", "eval", "export"]

    assert run_recipe() == [0, 0, 0]
    released = mlflow.genai.load_prompt("prompts:/sentiment@production")
    score = json.loads(Path("eval.json").read_text())["score"]
    assert released.version == 1 and float(released.tags["opro.test_score"]) == score >= 0.8
    assert released.format(review="great fun") == load_prompt("new.json").messages({"review": "great fun"})

    assert run_recipe() == [0, 0, 0]  # nothing changed: the same prompt, so no new version
    assert mlflow.genai.load_prompt("prompts:/sentiment@production").version == 1

    flipped = [(review, "negative" if label == "positive" else "positive")
               for review, label in toy_model.synthetic_reviews(30, 1)]
    write_rows(Path("prompt/test.jsonl"), flipped)  # the same prompt now fails the gate
    assert run_recipe() == [0, 1]
    assert mlflow.genai.load_prompt("prompts:/sentiment@production").version == 1
    with pytest.raises(Exception):
        mlflow.genai.load_prompt("prompts:/sentiment/2")


def test_without_the_mlflow_extra_one_line_says_what_to_install(tmp_path):
    """Run where MLflow cannot be imported (as on an install without the extra): exit 2, one line, nothing else read."""
    import subprocess
    import sys

    artifact = sentiment_artifact(tmp_path)
    code = ("import sys\nsys.modules['mlflow'] = None  # as if not installed: `import mlflow` raises ImportError\n"
            "from opro_cli.cli import app\napp(sys.argv[1:])")
    done = subprocess.run([sys.executable, "-c", code, "export", str(artifact), "--to", "mlflow", "--name", "x"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == ("error: --to mlflow needs MLflow, which is not installed: "
                                   "pip install 'opro-cli[mlflow]'")


def test_a_prompt_mlflow_would_change_is_refused_before_anything_is_registered(tmp_path, mlflow_store):
    import mlflow

    artifact = sentiment_artifact(tmp_path, instructions="Answer {% if sure %}now{% endif %}: positive or negative.")
    line = refused(artifact, "--to", "mlflow", "--name", "refused", "--alias", "production")
    assert "mlflow export refused, nothing written: the instructions: message 1 (system) holds {% and %}" in line
    shot = Shot(inputs={"review": "say {{review}} twice"}, answer="positive")
    (tmp_path / "second").mkdir()
    other = sentiment_artifact(tmp_path / "second", (shot,))
    assert "shot 1: message 2 (user) holds a {{name}} of its own" in refused(other, "--to", "mlflow", "--name", "refused")
    assert mlflow.genai.search_prompts() == []


def test_the_store_is_named_without_its_credentials():
    from opro_cli.use.mlflow_registry import public_uri

    assert public_uri("https://user:s3cret@mlflow.example:5000/api?token=abc") == "https://mlflow.example:5000/api"
    assert public_uri("sqlite:///mlflow.db") == "sqlite:///mlflow.db"
