"""`opro eval --batch` and `opro compare --batch` through litellm's real files and batches functions, against a
loopback server that speaks the OpenAI endpoints (batch_server.py): answers scored exactly as live ones, kept in
the cache, failures retried, a stop while waiting resumed without a second submission."""

from __future__ import annotations

import json
import signal
import time

import pytest
from typer.testing import CliRunner

from artifact_factory import ONE_WORD, make_artifact
from batch_server import BatchServer
from opro_cli.cli import app
from opro_cli.lm.batch import Limits, Results, read_results, request_line, split_files
from server_task import KEY, opro_process, use_server_env, write_server_task
from toy_task import write_toy_task


@pytest.fixture
def batch_server(monkeypatch, tmp_path):
    """Factory: `batch_server(scenario=..., ...)` starts a BatchServer (stopped after the test); the key, a short
    poll and a private cache are set for the commands the test runs."""
    use_server_env(monkeypatch)
    monkeypatch.setenv("OPRO_BATCH_POLL", "0.02")
    monkeypatch.setenv("OPRO_CACHE_DIR", str(tmp_path / "cache"))
    servers = []

    def start(**options):
        server = BatchServer(auth_token=KEY, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


class Ran:
    """A command's exit code, stdout and its output with the table's borders and wrapping undone (`text`)."""

    def __init__(self, result):
        self.exit_code, self.stdout, self.output = result.exit_code, result.stdout, result.output
        self.text = " ".join(result.output.replace("│", " ").split())


def opro(*args, code=0):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return Ran(result)


def rows(path):
    return [(row["answer"], row["reward"]) for row in json.loads(path.read_text())["examples"]]


def setup(tmp_path, server, test_size=30):
    task = write_server_task(tmp_path, server)
    if test_size != 30:
        task = write_server_task(tmp_path, server, test_size=test_size)
    make_artifact(task.spec, task.artifact, ONE_WORD)
    return task


def test_batch_answers_score_as_live_ones_and_a_second_run_sends_nothing(tmp_path, batch_server):
    server = batch_server(steps=3)
    task = setup(tmp_path, server)
    opro("eval", task.artifact, "--data", task.test, "--no-cache", "-o", tmp_path / "live.json", "-q")
    live_calls = server.served
    server.reset_counters()
    out = opro("eval", task.artifact, "--data", task.test, "--batch", "-o", tmp_path / "batch.json").text
    assert (server.uploads, server.batches_created, server.requests_in_batches, server.served) == (1, 1, 30, 0)
    assert server.retrieves == 3  # validating -> in progress -> completed, one poll each
    assert "batch batch_1 in_progress 10/30" in out and "completed 30/30" in out
    assert rows(tmp_path / "batch.json") == rows(tmp_path / "live.json") and live_calls == 30
    assert "30 from the batch, 0 from the cache, 0 live" in out
    assert not (tmp_path / "batch.json.batch.json").exists()  # the state is gone once collected
    again = opro("eval", task.artifact, "--data", task.test, "--batch", "-o", tmp_path / "again.json").text
    assert (server.uploads, server.batches_created, server.served) == (1, 1, 0)
    assert "0 from the batch, 30 from the cache, 0 live" in again and "nothing to send" in again


def test_an_expired_batch_is_finished_live_and_a_malformed_line_is_asked_again(tmp_path, batch_server):
    server = batch_server(scenario="expire", malformed_lines=1)
    task = setup(tmp_path, server)
    out = opro("eval", task.artifact, "--data", task.test, "--batch", "-o", tmp_path / "r.json").text
    # half of 30 answered by the batch, one of those lines unreadable: 14 from the batch, 16 live
    assert "14 from the batch, 0 from the cache, 16 live" in out and server.served == 16
    assert "1 unreadable result lines" in out
    opro("eval", task.artifact, "--data", task.test, "--no-cache", "-o", tmp_path / "live.json", "-q")
    assert rows(tmp_path / "r.json") == rows(tmp_path / "live.json")


def test_failed_requests_go_in_follow_up_batches_with_batch_retry(tmp_path, batch_server):
    server = batch_server(scenario="expire")
    task = setup(tmp_path, server)
    out = opro("eval", task.artifact, "--data", task.test, "--batch", "--batch-retry", "batch", "-o", tmp_path / "r.json").text
    # 30 -> 15 answered; follow-ups of 15 -> 7 and 8 -> 4; the last 4 live
    assert server.batches_created == 3 and server.requests_in_batches == 30 + 15 + 8 and server.served == 4
    assert "26 from the batch, 0 from the cache, 4 live" in out


def test_a_failed_batch_is_called_live(tmp_path, batch_server):
    server = batch_server(scenario="fail")
    task = setup(tmp_path, server)
    out = opro("eval", task.artifact, "--data", task.test, "--batch", "-o", tmp_path / "r.json").text
    assert "0 from the batch, 0 from the cache, 30 live" in out and server.served == 30


def test_input_files_follow_the_providers_limits():
    lines = [request_line(f"k{i:02d}", {"messages": [{"role": "user", "content": "x" * 50}]}) for i in range(25)]
    assert [f.count(b"\n") for f in split_files(lines, Limits(10, 10**9))] == [10, 10, 5]
    by_bytes = split_files(lines, Limits(100, len(lines[0]) * 4 + 1))
    assert [f.count(b"\n") for f in by_bytes] == [4] * 6 + [1] and b"".join(by_bytes) == b"".join(lines)


def test_result_files_a_malformed_line_and_a_failed_request_are_not_answers():
    ok = {"custom_id": "a", "response": {"status_code": 200, "body": {"choices": [{"message": {"content": "positive"}}],
                                                                        "usage": {"prompt_tokens": 3, "completion_tokens": 1}}}}
    failed = {"custom_id": "b", "response": {"status_code": 500, "body": {}}, "error": None}
    expired = {"custom_id": "c", "response": None, "error": {"code": "batch_expired", "message": "late"}}
    data = "\n".join([json.dumps(ok), json.dumps(failed), json.dumps(expired), '{"custom_id": "d", "resp']).encode()
    results = Results()
    read_results(data, results)
    assert results.answers == {"a": {"text": "positive", "prompt_tokens": 3, "completion_tokens": 1}}
    assert results.failed == {"b", "c"} and results.malformed == 1


def test_compare_sends_both_prompts_in_one_batch(tmp_path, batch_server):
    server = batch_server()
    task = setup(tmp_path, server)
    other = make_artifact(task.spec, tmp_path / "seed.json")
    out = opro("compare", other, task.artifact, "--data", task.test, "--batch", "--batch-state", tmp_path / "s.json").text
    assert (server.batches_created, server.requests_in_batches, server.served) == (1, 60, 0)
    assert "60 from the batch, 0 from the cache, 0 live" in out and "B is better" in out


def test_no_wait_submits_once_and_a_later_run_collects(tmp_path, batch_server):
    server = batch_server(steps=2)
    task = setup(tmp_path, server)
    out = opro("eval", task.artifact, "--data", task.test, "--batch", "--no-wait", "-o", tmp_path / "r.json")
    assert out.stdout == "batch_1 in_progress 15/30\n" and server.batches_created == 1  # one status poll
    state = tmp_path / "r.json.batch.json"
    assert json.loads(state.read_text())["batches"][0]["id"] == "batch_1" and KEY not in state.read_text()
    again = opro("eval", task.artifact, "--data", task.test, "--batch", "--no-wait", "-o", tmp_path / "r.json")
    assert again.stdout == "batch_1 completed 30/30\n" and server.batches_created == 1  # the same batch
    done = opro("eval", task.artifact, "--data", task.test, "--batch", "-o", tmp_path / "r.json").text
    assert server.batches_created == 1 and server.served == 0 and "30 from the batch" in done
    assert not state.exists()


def test_batch_cancel_cancels_and_forgets(tmp_path, batch_server):
    server = batch_server(scenario="hold")
    task = setup(tmp_path, server)
    opro("eval", task.artifact, "--data", task.test, "--batch", "--no-wait", "-o", tmp_path / "r.json")
    out = opro("eval", task.artifact, "--data", task.test, "--batch", "--batch-cancel", "-o", tmp_path / "r.json").text
    assert server.cancels == 1 and "cancelled batch_1" in out
    assert not (tmp_path / "r.json.batch.json").exists() and not (tmp_path / "r.json").exists()


def test_ctrl_c_while_waiting_keeps_the_batch_and_the_same_command_resumes_it(tmp_path, batch_server):
    server = batch_server(scenario="hold")
    task = setup(tmp_path, server)
    args = ("eval", task.artifact, "--data", task.test, "--batch", "-q", "-o", tmp_path / "r.json")
    child = opro_process(*args)
    deadline = time.monotonic() + 60
    while server.retrieves < 2:
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.01)
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=30)
    assert child.returncode == 130
    assert stderr.splitlines()[-1].startswith("interrupted: the batch keeps running at the provider (state in ")
    assert "run the same command again" in stderr and server.cancels == 0
    server.release()
    out = opro(*args[:-3], "-o", tmp_path / "r.json").text
    assert (server.uploads, server.batches_created, server.served) == (1, 1, 0)
    assert "30 from the batch" in out and not (tmp_path / "r.json.batch.json").exists()


def test_a_provider_without_a_batch_api_is_one_line_and_exit_2(tmp_path, toy_provider, monkeypatch):
    monkeypatch.setenv("OPRO_CACHE_DIR", str(tmp_path / "cache"))
    task = write_toy_task(tmp_path)
    make_artifact(task.spec, task.artifact, ONE_WORD)
    result = CliRunner().invoke(app, ["eval", str(task.artifact), "--data", str(task.test), "--batch", "-q"])
    assert result.exit_code == 2 and toy_provider.CALLS == 0
    assert result.output.strip().startswith("error: toy/sentiment: provider 'toy' has no batch API")
    assert len(result.output.strip().splitlines()) == 1


def test_batch_flags_need_batch(tmp_path, batch_server):
    server = batch_server()
    task = setup(tmp_path, server)
    result = opro("eval", task.artifact, "--data", task.test, "--no-wait", code=2)
    assert result.output.strip() == "error: --no-wait needs --batch" and server.requests == 0


def test_dry_run_plans_the_batch_beside_the_live_calls_and_sends_nothing(tmp_path, batch_server):
    server = batch_server()
    task = setup(tmp_path, server)
    out = opro("eval", task.artifact, "--data", task.test, "--dry-run", "--json").stdout
    plan = json.loads(out)
    assert (plan["examples"], plan["requests"], plan["files"], plan["unavailable"]) == (30, 30, 1, None)
    assert plan["bytes"] > 0 and plan["prompt_tokens"] > 0 and server.requests == 0
    table = opro("eval", task.artifact, "--data", task.test, "--dry-run", "--baseline").text
    assert "60 (0 in the cache, 60 distinct calls to make)" in table and "--batch" in table


def test_the_nightly_recipe_of_docs_ci_submits_then_collects(tmp_path, batch_server, monkeypatch):
    """docs/ci.md's two-job gate, its `opro` lines read from the page and run in order (the shell's $VARs aside)."""
    import re
    import shlex
    from pathlib import Path

    import yaml

    page = (Path(__file__).resolve().parent.parent / "docs" / "ci.md").read_text(encoding="utf-8")
    workflow = page.split("## A nightly gate through a provider batch", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    yaml.safe_load(workflow)
    submit, collect = re.findall(r"^\s*run: (opro .+)$", workflow, re.MULTILINE)
    server = batch_server(steps=4)
    (tmp_path / "task").mkdir()
    task = setup(tmp_path / "task", server)
    (tmp_path / "prompt").mkdir()
    task.artifact.rename(tmp_path / "prompt" / "best.json")
    task.test.rename(tmp_path / "prompt" / "nightly.jsonl")
    monkeypatch.chdir(tmp_path)
    first = opro(*shlex.split(submit)[1:])
    assert first.stdout.startswith("batch_1 ") and server.batches_created == 1
    second = opro(*shlex.split(collect)[1:])
    assert (server.batches_created, server.served) == (1, 0) and (tmp_path / "results.xml").exists()
    assert "30 from the batch, 0 from the cache, 0 live" in second.text  # and the gate passed (exit 0)
    assert not (tmp_path / ".opro-cache" / "nightly.batch.json").exists()


def test_a_judged_reward_sends_the_judges_calls_as_a_second_batch(tmp_path, batch_server):
    """Issue 35: the answers come from the first batch, the judge's verdicts on them from a second one; the
    evaluation then scores as a live one would, and sends nothing live."""
    from server_task import KEY_ENV

    server = batch_server()
    judge = {"type": "judge", "rubric": "The answer names the sentiment.", "reference": True,
             "model": {"name": "openai/toy", "api_base": server.url, "api_key_env": KEY_ENV}}
    task = write_server_task(tmp_path, server, reward=judge)
    make_artifact(task.spec, task.artifact, ONE_WORD)
    out = opro("eval", task.artifact, "--data", task.test, "--batch", "-o", tmp_path / "batch.json").text
    assert (server.batches_created, server.requests_in_batches, server.served) == (2, 60, 0)
    assert "60 from the batch, 0 from the cache, 0 live" in out
    opro("eval", task.artifact, "--data", task.test, "--no-cache", "-o", tmp_path / "live.json", "-q")
    assert rows(tmp_path / "batch.json") == rows(tmp_path / "live.json")
    server.reset_counters()
    again = opro("eval", task.artifact, "--data", task.test, "--batch", "-q").text
    assert (server.batches_created, server.served) == (2, 0) and "nothing to send" in again  # the same two


def test_a_judged_dry_run_plans_the_judges_batch_too(tmp_path, batch_server):
    """`eval --batch --dry-run` with a judge: the verdicts' batch is planned and priced after the answers' (an
    answer not known yet is sized by its expected value); once both are cached, neither has anything to send."""
    from server_task import KEY_ENV

    server = batch_server()
    judge = {"type": "judge", "rubric": "The answer names the sentiment.", "reference": True,
             "model": {"name": "openai/toy", "api_base": server.url, "api_key_env": KEY_ENV}}
    task = write_server_task(tmp_path, server, reward=judge)
    make_artifact(task.spec, task.artifact, ONE_WORD)
    plan = json.loads(opro("eval", task.artifact, "--data", task.test, "--batch", "--dry-run", "--json").stdout)
    assert (plan["requests"], plan["judge"]["requests"], plan["judge"]["cached"]) == (30, 30, 0)
    assert plan["judge"]["model"] == "openai/toy" and plan["judge"]["prompt_tokens"] > 0
    table = opro("eval", task.artifact, "--data", task.test, "--batch", "--dry-run").text
    assert "then the judge" in table and "verdicts needed" in table
    assert (server.batches_created, server.served) == (0, 0)
    opro("eval", task.artifact, "--data", task.test, "-q")  # live: the answers and the verdicts are cached
    plan = json.loads(opro("eval", task.artifact, "--data", task.test, "--batch", "--dry-run", "--json").stdout)
    assert (plan["requests"], plan["judge"]["requests"], plan["judge"]["cached"]) == (0, 0, 30)
