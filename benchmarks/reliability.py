"""Reliability figures of the LM layer on the toy task served by the fault server (offline, real HTTP):

1. calls made vs answers served with 30% faults, and whether the artifact equals the fault-free one;
2. wall time of a cold-cache run vs the same run again on a warm cache (a fresh `opro` process each);
3. kill -9 after step 2, `--resume`, and the comparison with an uninterrupted run.

    .venv/bin/python benchmarks/reliability.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

from fault_server import FaultServer  # noqa: E402
from opro_cli.artifact import load_artifact  # noqa: E402
from server_task import KEY, KEY_ENV, checkpoint_step, write_server_task  # noqa: E402

TRAIN = 60  # 12 validation examples, 48 training ones: 6 steps of 8


def opro(task, *extra, output: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    args = [sys.executable, "-m", "opro_cli.cli", "optimize", task.spec, "--data", task.train, "-o", output, "-q"]
    started = time.perf_counter()
    done = subprocess.run([str(a) for a in [*args, *extra]], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"opro failed ({done.returncode}): {done.stderr}")
    return time.perf_counter() - started, done


def in_process(task, *extra) -> float:
    from typer.testing import CliRunner

    from opro_cli.cli import app

    args = ["optimize", task.spec, "--data", task.train, "-o", task.artifact, "-q", *extra]
    started = time.perf_counter()
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exit_code != 0:
        raise SystemExit(f"opro failed ({result.exit_code}): {result.output}")
    return time.perf_counter() - started


def main() -> None:
    import litellm  # noqa: F401 - loaded once here, so the in-process timings below leave its import out

    os.environ[KEY_ENV] = KEY
    os.environ["OPRO_RETRY_BASE_DELAY"] = "0.05"
    work = Path(tempfile.mkdtemp(prefix="opro-reliability-"))
    with FaultServer(seed=3, slow_seconds=1.5) as server:
        task = write_server_task(work, server, timeout=0.5, train_size=TRAIN)

        seconds, _ = opro(task, "--no-cache", output=work / "clean.json")
        clean = load_artifact(work / "clean.json")
        needed = server.requests
        print(f"fault-free run: {needed} calls, {seconds:.1f} s, best {clean.scores.best_validation:.0%}"
              f" (seed prompt {clean.scores.seed_validation:.0%}), {len(clean.history)} steps")

        server.reset_counters()
        server.fault_rate = 0.3
        seconds, _ = opro(task, "--no-cache", "-j", "8", "--retries", "10", output=work / "faulty.json")
        faulty = load_artifact(work / "faulty.json")
        usage = faulty.run.usage
        print(f"30% faults: {int(usage['calls'])} calls made ({int(usage['retries'])} retries), {server.requests} requests"
              f" received, {server.served} answers served ({needed} needed); faults {server.faults}; {seconds:.1f} s;"
              f" same artifact: {faulty.reproducible_part() == clean.reproducible_part()}")

        server.fault_rate = 0.0
        for latency in (0.0, 0.05):
            server.latency = latency
            cache = work / f"cache-{latency}"
            server.reset_counters()
            cold, _ = opro(task, "--cache-dir", cache, output=work / "cold.json")
            cold_calls = server.requests
            server.reset_counters()
            warm, _ = opro(task, "--cache-dir", cache, output=work / "warm.json")
            warm_calls = server.requests
            same = load_artifact(work / "cold.json").reproducible_part() == load_artifact(work / "warm.json").reproducible_part()
            # The same in this process, where litellm (3-4 s to import here) is already loaded.
            cold_in, warm_in = (in_process(task, "--cache-dir", work / f"cache-in-{latency}") for _ in range(2))
            print(f"cache, server latency {latency * 1000:.0f} ms: cold {cold:.2f} s ({cold_calls} calls), warm {warm:.2f} s"
                  f" ({warm_calls} calls) as processes; cold {cold_in:.2f} s, warm {warm_in:.2f} s after import;"
                  f" same artifact: {same}")

        server.latency = 0.02
        server.reset_counters()
        args = [sys.executable, "-m", "opro_cli.cli", "optimize", task.spec, "--data", task.train,
                "-o", work / "resumed.json", "-q", "--no-cache", "-j", "2"]
        child = subprocess.Popen([str(a) for a in args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while checkpoint_step(work / "resumed.json") < 2:
            if child.poll() is not None:
                raise SystemExit("the run ended before step 2")
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait()
        killed_at, killed_calls = checkpoint_step(work / "resumed.json"), server.requests
        server.reset_counters()
        opro(task, "--no-cache", "--resume", output=work / "resumed.json")
        resumed = load_artifact(work / "resumed.json")
        print(f"resume: killed (SIGKILL) with the checkpoint at step {killed_at}/{len(clean.history)} after {killed_calls}"
              f" calls; --resume made {server.requests} more ({killed_calls + server.requests} in all vs {needed}"
              f" uninterrupted); same artifact: {resumed.reproducible_part() == clean.reproducible_part()}")


if __name__ == "__main__":
    main()
