"""`opro eval` streams its data: the file is checked before any call, examples are read as they are needed,
results go to disk as they come (in data order) and the `-o` files are made from them at the end."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import toy_model
from artifact_factory import ONE_WORD, make_artifact
from opro_cli.artifact import load_artifact
from opro_cli.cli import app
from opro_cli.jobs import CallOptions, evaluate_prompt
from toy_task import write_rows, write_toy_task


def test_results_are_on_disk_as_they_come_in_data_order(tmp_path, toy_provider):
    task = write_toy_task(tmp_path, test_size=300)
    make_artifact(task.spec, task.artifact, ONE_WORD)
    artifact = load_artifact(task.artifact)
    near = tmp_path / "out" / "r.jsonl"
    partial = near.with_name(".r.jsonl.partial")
    seen: list[int] = []

    def on_done(_):
        seen.append(len(partial.read_text().splitlines()))

    result = evaluate_prompt(artifact.task_spec(), artifact.prompt, task.test, artifact, rows_near=near,
                             options=CallOptions(cache=False, concurrency=8), on_done=on_done)
    # the first result is on disk at once, the others flushed at most FLUSH_EVERY seconds after they come
    assert seen[0] == 1 and seen == sorted(seen) and seen[-1] <= 300
    assert list(result.rows.lines) == list(range(1, 301)) and result.examples == 300
    result.rows.write_jsonl(near)
    rows = [json.loads(line) for line in near.read_text().splitlines()]
    expected = [json.loads(line)["label"] for line in task.test.read_text().splitlines()]
    assert [row["expected"] for row in rows] == expected
    result.rows.close()
    assert not partial.exists() and near.exists()


def test_a_bad_line_at_the_end_stops_before_any_call(tmp_path, toy_provider):
    task = write_toy_task(tmp_path, test_size=50)
    make_artifact(task.spec, task.artifact, ONE_WORD)
    with task.test.open("a") as handle:
        handle.write('{"review": "no label here"}\n')
    result = CliRunner().invoke(app, ["eval", str(task.artifact), "--data", str(task.test), "--no-cache", "-q",
                                      "-o", str(tmp_path / "r.jsonl")])
    assert result.exit_code == 2 and result.output.strip() == f"error: {task.test}:51: label: missing field"
    assert toy_provider.CALLS == 0
    assert not (tmp_path / "r.jsonl").exists() and not (tmp_path / ".r.jsonl.partial").exists()


def test_the_cli_writes_every_format_from_the_streamed_rows(tmp_path, toy_provider):
    task = write_toy_task(tmp_path)
    write_rows(task.test, toy_model.synthetic_reviews(1000, 5))
    make_artifact(task.spec, task.artifact, ONE_WORD)
    outputs = [tmp_path / "r.jsonl", tmp_path / "r.json", tmp_path / "r.xml"]
    result = CliRunner().invoke(app, ["eval", str(task.artifact), "--data", str(task.test), "--no-cache", "-q", "-j", "16",
                                      *[arg for path in outputs for arg in ("-o", str(path))]])
    assert result.exit_code == 0, result.output
    document = json.loads(outputs[1].read_text())
    assert document["summary"]["examples"] == 1000 and [e["line"] for e in document["examples"]] == list(range(1, 1001))
    assert len(outputs[0].read_text().splitlines()) == 1000
    assert outputs[2].read_text().count("<testcase ") == 1000
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no partial file left
