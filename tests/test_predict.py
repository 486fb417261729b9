"""`opro predict`: the measured prompt answers unlabelled rows with eval's requests and parser, in input order,
streamed and resumable (Ctrl-C, a budget, kill -9: no row lost, none twice, no answered call asked again), with a
bad line found before any call, a dry run and the provider batch path. Through the toy provider and the loopback
servers, for real."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from artifact_factory import ONE_WORD, TWO_SHOTS, make_artifact
from server_task import opro_process, use_server_env, write_server_task
from test_load_prompt import opro, read_jsonl
from test_reward_cli import booking_prompt, make_task


def unlabelled(task: Any, path: Path, drop: tuple[str, ...]) -> Path:
    rows = [{k: v for k, v in row.items() if k not in drop} for row in read_jsonl(task.test)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_predictions_are_evals_answers_in_input_order_and_ask_nothing_again(tmp_path, toy_provider):
    task = make_task(tmp_path, "toy/booking", booking_prompt("total"), answer={"type": "integer"})
    cache = tmp_path / "cache"
    opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "--cache-dir", cache, "-q")
    opro("eval", task.artifact, "--data", task.test, "--cache-dir", cache, "-q", "-o", tmp_path / "eval.jsonl")
    asked = toy_provider.CALLS.total
    rows = unlabelled(task, tmp_path / "rows.jsonl", drop=("total",))
    out = tmp_path / "predictions.jsonl"
    said = opro("predict", task.artifact, "--data", rows, "-o", out, "--cache-dir", cache, "--raw", "-q").output
    assert toy_provider.CALLS.total == asked  # every request is one eval made: found in the cache
    predicted, scored = read_jsonl(out), read_jsonl(tmp_path / "eval.jsonl")
    assert [{k: v for k, v in p.items() if k not in ("answer", "raw", "error")} for p in predicted] == read_jsonl(rows)
    assert [p["raw"] for p in predicted] == [s["raw"] for s in scored]
    for p, s in zip(predicted, scored):
        assert p["answer"] == (int(s["answer"]) if s["answer"] is not None else None)
        assert ("error" in p) == (s["answer"] is None)
    assert f"wrote {len(predicted)} predictions to {out}" in said
    assert not list(tmp_path.glob("*.partial*"))


def test_several_fields_are_objects_and_extra_fields_are_kept(tmp_path, toy_provider):
    task = make_task(tmp_path, "toy/booking", booking_prompt(),
                     answer={"outputs": {"nights": {"type": "integer"}}, "fields": {"note": "a short note"}})
    opro("optimize", task.spec, "--data", task.train, "-o", task.artifact, "--no-cache", "-q")
    out = tmp_path / "predictions.jsonl"
    opro("predict", task.artifact, "--data", unlabelled(task, tmp_path / "rows.jsonl", ("person", "destination", "nights")),
         "-o", out, "--no-cache", "-q")
    lines = read_jsonl(out)
    readable = [line for line in lines if line["answer"] is not None]
    assert readable and all(isinstance(line["answer"], dict) and "fields" in line for line in lines)
    assert all(isinstance(line["answer"].get("nights", 0), int) for line in readable)


def test_a_bad_line_is_file_line_field_exit_2_before_any_call(tmp_path, toy_provider):
    task = make_task(tmp_path, "toy/sentiment", {"instructions": "Classify.", "input": "Review: {review}", "output": "label"})
    make_artifact(task.spec, task.artifact, ONE_WORD)
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"review": "great"}\n{"text": "dull"}\n')
    result = opro("predict", task.artifact, "--data", rows, "-o", tmp_path / "out.jsonl", code=2)
    assert result.output.strip() == f"error: {rows}:2: review: missing field"
    assert toy_provider.CALLS.total == 0 and not list(tmp_path.glob("out.jsonl*"))


def test_budget_stop_keeps_the_rows_and_resume_finishes_without_asking_again(tmp_path, toy_provider):
    task = make_task(tmp_path, "toy/sentiment", {"instructions": "Classify.", "input": "Review: {review}", "output": "label"},
                     test=None)
    make_artifact(task.spec, task.artifact, ONE_WORD, TWO_SHOTS)
    out, cache = tmp_path / "out.jsonl", tmp_path / "cache"
    stopped = opro("predict", task.artifact, "--data", task.test, "-o", out, "--cache-dir", cache, "-j", "2",
                   "--max-calls", "5", "-q")
    assert "--resume" in stopped.output and not out.exists()
    partial = read_jsonl(tmp_path / "out.jsonl.partial")
    assert 0 < len(partial) <= 5
    first = toy_provider.CALLS.total
    again = opro("predict", task.artifact, "--data", task.test, "-o", out, "--cache-dir", cache, "-q", code=2)
    assert "add --resume to finish it" in again.output  # never started over on its own
    opro("predict", task.artifact, "--data", task.test, "-o", out, "--cache-dir", cache, "--resume", "-q")
    rows = read_jsonl(task.test)
    assert [line["review"] for line in read_jsonl(out)] == [row["review"] for row in rows]
    assert toy_provider.CALLS.total - first == len(rows) - first  # each row asked once over both runs
    assert not (tmp_path / "out.jsonl.partial").exists() and not (tmp_path / "out.jsonl.partial.json").exists()


def test_resume_refuses_a_partial_file_begun_with_other_data(tmp_path, toy_provider):
    task = make_task(tmp_path, "toy/sentiment", {"instructions": "Classify.", "input": "Review: {review}", "output": "label"})
    make_artifact(task.spec, task.artifact, ONE_WORD, TWO_SHOTS)
    out = tmp_path / "out.jsonl"
    opro("predict", task.artifact, "--data", task.test, "-o", out, "--no-cache", "--max-calls", "3", "-q")
    result = opro("predict", task.artifact, "--data", task.train, "-o", out, "--no-cache", "--resume", "-q", code=2)
    assert "begun with another data_sha256" in result.output


def wait_for_lines(path: Path, count: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached {count} lines")


@pytest.mark.parametrize("stop", ["kill -9", "ctrl-c"])
def test_a_stopped_run_resumed_loses_no_row_repeats_none_and_asks_no_answered_call(tmp_path, fault_server,
                                                                                  monkeypatch, stop):
    use_server_env(monkeypatch)
    monkeypatch.setenv("OPRO_CACHE_DIR", str(tmp_path / "cache"))
    server = fault_server(latency=0.05)
    task = write_server_task(tmp_path, server, test_size=120)
    make_artifact(task.spec, task.artifact, ONE_WORD, TWO_SHOTS)
    out = tmp_path / "out.jsonl"
    process = opro_process("predict", task.artifact, "--data", task.test, "-o", out, "-j", "4", "-q")
    wait_for_lines(tmp_path / "out.jsonl.partial", 20)
    process.send_signal(signal.SIGKILL if stop == "kill -9" else signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    if stop == "ctrl-c":
        assert process.returncode == 130 and "--resume to finish" in stderr and "Traceback" not in stderr
    with sqlite3.connect(tmp_path / "cache" / "responses.sqlite3") as db:  # the answers the stopped run got
        answered = db.execute("SELECT count(*) FROM responses").fetchone()[0]
    server.reset_counters()
    opro("predict", task.artifact, "--data", task.test, "-o", out, "--resume", "-q")
    rows = read_jsonl(task.test)
    assert [line["review"] for line in read_jsonl(out)] == [row["review"] for row in rows]
    assert 20 <= answered < len(rows)
    assert server.served == len(rows) - answered  # nothing the stopped run was answered is asked again


def test_dry_run_counts_the_calls_and_sends_nothing(tmp_path, toy_provider):
    task = make_task(tmp_path, "toy/sentiment", {"instructions": "Classify.", "input": "Review: {review}", "output": "label"})
    make_artifact(task.spec, task.artifact, ONE_WORD)
    text = " ".join(opro("predict", task.artifact, "--data", task.test, "-o", tmp_path / "o.jsonl", "--dry-run",
                         "--no-cache").output.replace("│", " ").split())
    assert "12 (0 in the cache, 12 distinct calls to make)" in text and "live 12 calls" in text
    assert toy_provider.CALLS.total == 0 and not list(tmp_path.glob("o.jsonl*"))


def test_batch_answers_the_rows_through_the_provider_batch(tmp_path, monkeypatch):
    from batch_server import BatchServer
    from server_task import KEY

    use_server_env(monkeypatch)
    monkeypatch.setenv("OPRO_BATCH_POLL", "0.02")
    monkeypatch.setenv("OPRO_CACHE_DIR", str(tmp_path / "cache"))
    server = BatchServer(auth_token=KEY, steps=2).start()
    try:
        task = write_server_task(tmp_path, server)
        make_artifact(task.spec, task.artifact, ONE_WORD, TWO_SHOTS)
        rows = unlabelled(task, tmp_path / "rows.jsonl", ("label",))
        opro("predict", task.artifact, "--data", rows, "-o", tmp_path / "live.jsonl", "--no-cache", "-q")
        server.reset_counters()
        opro("predict", task.artifact, "--data", rows, "-o", tmp_path / "batch.jsonl", "--batch", "-q")
        assert (server.batches_created, server.requests_in_batches, server.served) == (1, 30, 0)
        assert read_jsonl(tmp_path / "batch.jsonl") == read_jsonl(tmp_path / "live.jsonl")
    finally:
        server.stop()


DOC = Path(__file__).resolve().parent.parent / "docs" / "using-the-prompt.md"


def test_the_pages_code_and_commands_run_as_shown(tmp_path, toy_provider, monkeypatch):
    """docs/using-the-prompt.md: its Python blocks run in order in one namespace, its `opro predict` command runs,
    and the output line it shows has the shape predict writes."""
    import re
    import shlex

    monkeypatch.chdir(tmp_path)
    task = make_task(tmp_path, "toy/sentiment", {"instructions": "Classify.", "input": "Review: {review}", "output": "label"})
    make_artifact(task.spec, Path("best.json"), ONE_WORD, TWO_SHOTS)
    Path("rows.jsonl").write_text('{"review": "The plot was thin but the acting carried it."}\n')
    page = DOC.read_text(encoding="utf-8")
    namespace: dict[str, Any] = {}
    for block in re.findall(r"```python\n(.*?)```", page, re.DOTALL):
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - the page's own example
    assert namespace["answer"] in ("positive", "negative")
    commands = [line for block in re.findall(r"```bash\n(.*?)```", page, re.DOTALL) for line in block.splitlines()]
    for command in commands:
        opro(*shlex.split(command)[1:])
    shown = json.loads(re.search(r"```\n(\{.*?\})\n```", page, re.DOTALL).group(1))
    written = read_jsonl(Path("predictions.jsonl"))
    assert [set(line) for line in written] == [set(shown)] and written[0]["review"] == shown["review"]


def test_the_benchmark_prints_predict_beside_litellm_and_the_memory_figures():
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, str(root / "benchmarks" / "predict.py"), "--calls", "40", "--rounds", "1",
                           "--settle", "0", "--sizes", "100,400"], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"opro predict / litellm within each round: median \d+\.\d\dx", done.stdout)
    assert re.search(r"\s400 rows\s+\d+\.\d MB", done.stdout)


def test_progress_in_logs_says_rows_done_rows_per_second_and_time_left():
    from opro_cli.cli.predicting import rows_line

    assert rows_line(1200, 10000, 14.07) == "rows 1200/10000, 85.3 rows/s, ~1m43s left"
    assert rows_line(1300, 10000, 1.0, before=1200) == "rows 1300/10000, 100.0 rows/s, ~1m27s left"  # resumed
