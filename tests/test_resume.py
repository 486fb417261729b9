"""Checkpoints and `--resume`: a run killed with SIGKILL (a real child process) resumes from its last step and
ends with the artifact of an uninterrupted run; Ctrl-C stops cleanly with the best prompt so far written."""

from __future__ import annotations

import dataclasses
import json
import signal

import pytest

from fault_server import FaultServer
from opro_cli.artifact import load_artifact
from opro_cli.search.checkpoint import load
from opro_cli.errors import InputError
from server_task import (
    checkpoint_step,
    optimize,
    optimize_process,
    same_result,
    use_server_env,
    wait_for_step,
    write_server_task,
)

TRAIN = 36  # a pool of 12 validation examples (the toy spec's), minibatches of 4 (batch_size below)


@pytest.fixture(autouse=True)
def env(monkeypatch):
    use_server_env(monkeypatch)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One server and one uninterrupted run for the whole module (the artifact names the server's URL)."""
    with pytest.MonkeyPatch.context() as monkeypatch, FaultServer(latency=0.01) as server:
        use_server_env(monkeypatch)
        # The latency stretches a step to ~0.2 s, so the child process can be caught between steps.
        task = write_server_task(tmp_path_factory.mktemp("task"), server, train_size=TRAIN, optimizer={"batch_size": 4})
        optimize(task, "--no-cache")
        artifact = load_artifact(task.artifact)
        assert len(artifact.history) >= 3 and artifact.scores.best_validation > artifact.scores.seed_validation
        yield task, server, artifact, server.requests


@pytest.fixture
def task(reference, tmp_path):
    """The module's task, writing its artifact in this test's directory."""
    shared, server, artifact, calls = reference
    server.reset_counters()
    task = dataclasses.replace(shared, artifact=tmp_path / "best.json")
    task.server, task.reference, task.calls = server, artifact, calls
    return task


def test_kill_9_then_resume_reaches_the_uninterrupted_result(task):
    child = optimize_process(task, "--no-cache", "-j", "2")
    reached = wait_for_step(task.artifact, 2, child)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    assert not task.artifact.exists()  # killed: no artifact, only the checkpoint
    saved = checkpoint_step(task.artifact)
    assert reached <= saved < len(task.reference.history)
    killed_calls = task.server.requests

    task.server.reset_counters()
    optimize(task, "--no-cache", "--resume")
    resumed = load_artifact(task.artifact)
    assert same_result(resumed, task.reference)
    assert resumed.run.stopped == "completed"
    assert task.server.requests < task.calls  # the checkpointed steps were not redone
    assert killed_calls + task.server.requests >= task.calls  # at most the step in progress was lost
    assert not task.artifact.with_name(task.artifact.name + ".checkpoint.json").exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_stops_cleanly_with_the_best_so_far_and_resume_finishes(task, signum):
    child = optimize_process(task, "--no-cache", "-j", "2")
    wait_for_step(task.artifact, 1, child)
    child.send_signal(signum)
    _, stderr = child.communicate(timeout=20)
    assert child.returncode == 130, stderr
    # Exactly one line: no traceback, no asyncio log, no warning, on every supported Python.
    assert stderr == f"interrupted: best prompt so far written to {task.artifact}; continue with --resume\n"
    stopped = load_artifact(task.artifact)
    assert stopped.run.stopped == "interrupted"
    assert len(stopped.history) == checkpoint_step(task.artifact) >= 1
    assert stopped.scores.best_validation == max(step.best_score for step in stopped.history)

    optimize(task, "--no-cache", "--resume")
    assert same_result(task.artifact, task.reference)


def test_a_checkpoint_resumes_only_its_own_run(task):
    optimize(task, "--no-cache", "--max-calls", "60")  # leaves a checkpoint
    result = optimize(task, "--no-cache", "--resume", "--seed", "9", code=2)
    assert "checkpoint is from another spec, dataset or seed; delete it to start over" in result.output


def test_a_broken_checkpoint_is_reported_not_ignored(task):
    path = task.artifact.with_name(task.artifact.name + ".checkpoint.json")
    path.write_text('{"version": 1, "run_id": ')
    result = optimize(task, "--no-cache", "--resume", code=2)
    assert "unreadable checkpoint; delete it to start over" in result.output
    with pytest.raises(InputError):
        load(path, "any")


def test_resume_without_a_checkpoint_starts_afresh(task):
    optimize(task, "--no-cache", "--resume")
    assert same_result(task.artifact, task.reference)


def test_checkpoints_are_written_atomically_after_every_step(task):
    optimize(task, "--no-cache", "--max-calls", "85")  # the whole run takes about 100
    path = task.artifact.with_name(task.artifact.name + ".checkpoint.json")
    saved = json.loads(path.read_text())
    assert saved["state"]["step"] == len(load_artifact(task.artifact).history) >= 1
    assert saved["usage"]["calls"] <= 85
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
