"""Every way a run stops early ends with one line on stderr and the documented exit code, nothing else: no
traceback, no asyncio log, no "coroutine was never awaited" warning. Run as real child processes, because
those only show on a real process's stderr (see opro_cli/event_loop.py for where they came from)."""

from __future__ import annotations

import importlib.util
import re
import signal
import socket
import time
from pathlib import Path

import pytest

from artifact_factory import make_artifact
from opro_cli.artifact import load_artifact
from server_task import ROOT, opro_process, optimize, optimize_process, use_server_env, write_server_task


@pytest.fixture(autouse=True)
def env(monkeypatch):
    use_server_env(monkeypatch)


def finish(child, timeout: float = 60) -> tuple[int, str]:
    _, stderr = child.communicate(timeout=timeout)
    return child.returncode, stderr


def test_outage_with_calls_in_flight_is_one_error_line_and_exit_3(tmp_path, fault_server):
    server = fault_server(latency=0.02)
    task = write_server_task(tmp_path, server)
    server.queue(["ok"] * 12 + ["503"] * 200)  # the seed prompt is scored, then every call fails
    code, stderr = finish(optimize_process(task, "--no-cache", "-j", "4", "--retries", "1"))
    assert code == 3, stderr
    assert re.fullmatch(
        r"error: openai/toy: still failing after 2 attempts: ServiceUnavailableError \(HTTP 503\)[^\n]*"
        rf" \(best prompt so far written to {re.escape(str(task.artifact))}; continue with --resume\)\n",
        stderr,
    ), stderr


def test_unreachable_endpoint_is_one_error_line_and_exit_3(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    task = write_server_task(tmp_path, type("Gone", (), {"url": f"http://127.0.0.1:{port}/v1"})())
    code, stderr = finish(optimize_process(task, "--no-cache", "-j", "4", "--retries", "1"))
    assert code == 3, stderr
    assert re.fullmatch(r"error: openai/toy: still failing after 2 attempts: [^\n]*Connection error\.\n", stderr), stderr


def test_budget_stop_with_calls_in_flight_is_one_note_and_exit_0(tmp_path, fault_server):
    server = fault_server(latency=0.02)
    task = write_server_task(tmp_path, server)
    code, stderr = finish(optimize_process(task, "--no-cache", "-j", "6", "--max-calls", "40"))
    assert code == 0, stderr
    # The budget note, then at most the note saying why the seed prompt is returned (which depends on which
    # calls finished before the budget ran out): notes only, nothing else.
    notes = re.split(r"^note: ", stderr, flags=re.MULTILINE)
    assert notes[0] == "" and notes[1] == "call budget of 40 reached\n", stderr
    assert all(note.startswith("the seed prompt is returned") for note in notes[2:]), stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_during_eval_is_one_line_and_exit_130(tmp_path, fault_server, signum):
    server = fault_server()
    task = write_server_task(tmp_path, server)
    optimize(task, "--no-cache")
    server.latency = 0.2  # slow answers: the signal comes with calls in flight
    server.reset_counters()
    child = opro_process("eval", task.artifact, "--data", task.test, "--no-cache", "-q", "-j", "4")
    deadline = time.monotonic() + 30
    while server.requests < 4:
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.01)
    child.send_signal(signum)
    code, stderr = finish(child)
    assert (code, stderr) == (130, "interrupted\n")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux), to tell when the embedded model is at work."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


@pytest.mark.local_model
@pytest.mark.skipif(importlib.util.find_spec("xllamacpp") is None or not Path("/proc/self/stat").exists(),
                    reason="needs the 'local' extra and Linux's /proc")
def test_ctrl_c_with_embedded_model_calls_queued_stops_at_once(tmp_path, monkeypatch):
    """With -j 4, three calls wait behind the one the model is running: Ctrl-C must not wait for them (it took
    29 s on a busy machine when the end of the run waited for every queued call)."""
    # One thread: on a machine busy with other work, two threads that wait for each other make one call last
    # seconds, which would measure the load rather than the stop.
    monkeypatch.setenv("OPRO_LOCAL_N_THREADS", "1")
    artifact = make_artifact(ROOT / "configs" / "topic.yaml", tmp_path / "topic.json")
    child = opro_process("eval", artifact, "--data", ROOT / "datasets" / "topic_test.jsonl", "--no-cache", "-q", "-j", "4")
    deadline = time.monotonic() + 300
    while cpu_seconds(child.pid) < 6:  # imports and model load take ~3 s of CPU: by then calls are queued
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    sent = time.monotonic()
    code, stderr = finish(child)
    assert (code, stderr) == (130, "interrupted\n")
    assert time.monotonic() - sent < 15  # the call in progress finishes; the queued ones never start


@pytest.mark.local_model
@pytest.mark.skipif(importlib.util.find_spec("xllamacpp") is None, reason="needs the 'local' extra")
def test_ctrl_c_during_an_embedded_search_writes_the_best_prompt_and_offers_resume(tmp_path):
    """Ctrl-C in the second step of a search on the embedded model, a call in the engine: the call stops, and the
    best prompt so far is written with the checkpoint `--resume` continues from."""
    artifact = tmp_path / "topic.json"
    child = opro_process("optimize", ROOT / "configs" / "topic.yaml", "--data", ROOT / "datasets" / "topic_train.jsonl",
                         "-o", artifact, "--no-cache", "-q")
    checkpoint = artifact.with_name(artifact.name + ".checkpoint.json")
    deadline = time.monotonic() + 600
    while not checkpoint.exists():  # the first step is done: the second one is running
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    code, stderr = finish(child, timeout=300)
    assert (code, stderr) == (130, f"interrupted: best prompt so far written to {artifact}; continue with --resume\n")
    assert load_artifact(artifact).run.stopped == "interrupted" and checkpoint.exists()
