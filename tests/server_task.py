"""The toy task served over real HTTP by the fault server (see fault_server.py and toy_task.py), and ways to run
`opro` on it: in process (fast) or as a subprocess (for kill -9 and Ctrl-C).

litellm reaches the server as model `openai/toy` through the spec's `api_base`; the key comes from the
environment variable KEY_ENV, as a user's would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from opro_cli.artifact import Artifact, load_artifact
from opro_cli.cli import app
from toy_task import ToyTask, write_toy_task

KEY_ENV = "OPRO_TOY_KEY"
KEY = "sk-toy-9f8e7d6c5b4a3210"
ROOT = Path(__file__).resolve().parent.parent


def write_server_task(directory: Path, server: Any, *, timeout: float = 1.0, train_size: int = 24, **overrides: Any) -> ToyTask:
    """The toy task with its model behind `server`; `overrides` as in toy_task.spec_dict."""
    model = {"name": "openai/toy", "api_base": server.url, "api_key_env": KEY_ENV, "timeout": timeout}
    return write_toy_task(directory, train_size=train_size, model={**model, **overrides.pop("model", {})}, **overrides)


def optimize(task: ToyTask, *extra: Any, code: int = 0) -> Any:
    """`opro optimize` in process; checks the exit code and that no traceback escaped."""
    args = ["optimize", task.spec, "--data", task.train, "-o", task.artifact, "-q", *extra]
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def optimize_process(task: ToyTask, *extra: Any) -> subprocess.Popen[str]:
    """`opro optimize` as a child process (python -m opro_cli.cli), with this environment."""
    return opro_process("optimize", task.spec, "--data", task.train, "-o", task.artifact, "-q", *extra)


def opro_process(*args: Any) -> subprocess.Popen[str]:
    """`opro ARGS` as a child process, with this environment: what a user's terminal shows, warnings included."""
    return subprocess.Popen(
        [sys.executable, "-m", "opro_cli.cli", *[str(a) for a in args]],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def checkpoint_step(artifact: Path) -> int:
    """The step of the checkpoint next to `artifact` (-1 if there is none or it is being replaced)."""
    import json

    path = artifact.with_name(artifact.name + ".checkpoint.json")
    try:
        return int(json.loads(path.read_text(encoding="utf-8"))["state"]["step"])
    except (OSError, ValueError, KeyError):
        return -1


def wait_for_step(artifact: Path, step: int, process: subprocess.Popen[str], timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reached = checkpoint_step(artifact)
        if reached >= step:
            return reached
        assert process.poll() is None, f"the run ended before step {step}: {process.communicate()}"
        time.sleep(0.01)
    raise AssertionError(f"no checkpoint at step {step} after {timeout} s")


class SameResult:
    """Truthy when two artifacts agree outside `run`; its repr names the first fields that differ."""

    def __init__(self, a: Artifact | Path, b: Artifact | Path) -> None:
        first = (a if isinstance(a, Artifact) else load_artifact(a)).reproducible_part()
        second = (b if isinstance(b, Artifact) else load_artifact(b)).reproducible_part()
        self.differences = list(_differences(first, second, ""))

    def __bool__(self) -> bool:
        return not self.differences

    def __repr__(self) -> str:
        return "same" if not self.differences else "differ at " + "; ".join(self.differences[:5])


def same_result(a: Artifact | Path, b: Artifact | Path) -> SameResult:
    return SameResult(a, b)


def _differences(a: Any, b: Any, where: str):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from _differences(a.get(key), b.get(key), f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b)):
            yield from _differences(x, y, f"{where}[{index}]")
    elif a != b:
        yield f"{where or '(top)'}: {str(a)[:120]!r} != {str(b)[:120]!r}"


def use_server_env(monkeypatch: Any, retry_base_delay: float = 0.02) -> None:
    """The key the spec names, and a short retry backoff (the server's Retry-After is still honoured)."""
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv("OPRO_RETRY_BASE_DELAY", str(retry_base_delay))
