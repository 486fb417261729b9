"""How long Ctrl-C takes to end `opro optimize` on a busy machine, and whether the stop is clean.

Starts `--load` CPU-bound processes (busy loops, default 2: as many as the 2 cores of the machine this was
written on), then runs `opro optimize` on the embedded model `--tries` times (default 10), each with a fresh
response cache (so the model computes every answer, as in a first run), sends SIGINT `--delay` seconds after its
first step line (the search is running, and a best prompt exists; each try adds a little, so the signals land at
different points of the next step), and prints for each try the time from SIGINT to the process's exit, its exit code, whether the artifact
and the checkpoint were written and whether `--resume` was offered; then the slowest and the median.

    python benchmarks/ctrl_c.py                        # configs/sentiment.yaml, 10 tries, 2 loads
    python benchmarks/ctrl_c.py --tries 3 --load 0     # the same stop on a quiet machine
    python benchmarks/ctrl_c.py --after plan --delay 20  # a machine too busy to finish a step in minutes

The goal (issue 36) is 3 s or less in every try under two loads on 2 cores. The machine's load average is
printed before and after: other work on the machine (other users, other jobs) weighs on the figures too.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opro_cli.search.checkpoint import checkpoint_path  # noqa: E402

GOAL_S = 3.0


@dataclass
class Try:
    seconds: float  # SIGINT to exit
    code: int
    artifact: bool
    checkpoint: bool
    resume: bool
    last_line: str


def start_load(n: int) -> list[subprocess.Popen[bytes]]:
    code = "while True: pass"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]


def one_try(spec: Path, data: Path, delay: float, work: Path, timeout: float, after: str = "step ") -> Try:
    """One optimisation, interrupted `delay` s after its first line that starts with `after`."""
    artifact = work / "run.json"
    env = {**os.environ, "OPRO_CACHE_DIR": str(work / "cache"), "NO_COLOR": "1"}
    child = subprocess.Popen(
        [sys.executable, "-m", "opro_cli.cli", "optimize", str(spec), "--data", str(data), "-o", str(artifact)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    planned = threading.Event()
    out: list[str] = []

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            out.append(line)
            if line.startswith(after):
                planned.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not planned.wait(timeout):
        child.kill()
        raise SystemExit(f"no {after.strip()!r} line within {timeout:.0f} s: {child.communicate()}")
    time.sleep(delay)
    if child.poll() is not None:
        raise SystemExit(f"the run ended before the signal (delay {delay:.1f} s is too long): {''.join(out)[-500:]}")
    child.send_signal(signal.SIGINT)
    sent = time.monotonic()
    _, stderr = child.communicate(timeout=timeout)
    seconds = time.monotonic() - sent
    reader.join(1)
    lines = stderr.strip().splitlines()
    return Try(seconds, child.returncode, artifact.exists(), checkpoint_path(artifact).exists(), "--resume" in stderr,
               lines[-1] if lines else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=ROOT / "configs" / "sentiment.yaml")
    parser.add_argument("--data", type=Path, default=ROOT / "datasets" / "sentiment_train.jsonl")
    parser.add_argument("--tries", type=int, default=10)
    parser.add_argument("--load", type=int, default=2, help="CPU-bound processes beside the run")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds after the first step line to the SIGINT")
    parser.add_argument("--after", choices=["step", "plan"], default="step",
                        help="count the delay from the first step line (default) or from the plan line (a busy "
                             "machine may take minutes to finish a step; before the seed prompt is scored, there is "
                             "nothing to write)")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    # Started in the background of a non-interactive shell, this process (and so each run) would inherit SIGINT
    # ignored; a handler is reset to the default in a child at exec, an ignored signal stays ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    print(f"{args.spec.name}, {args.tries} tries, {args.load} CPU-bound loads, {os.cpu_count()} cores; "
          f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    loads = start_load(args.load)
    tries: list[Try] = []
    try:
        for n in range(args.tries):
            delay = args.delay + (n % 5) * 0.7  # signals at different points of a step
            with tempfile.TemporaryDirectory(prefix="ctrl-c-") as work:
                t = one_try(args.spec, args.data, delay, Path(work), args.timeout, f"{args.after}{':' if args.after == 'plan' else ''} ")
            tries.append(t)
            print(f"try {n + 1:2d}: SIGINT after {delay:.1f} s -> exit {t.code} in {t.seconds:.2f} s; "
                  f"artifact {'written' if t.artifact else 'MISSING'}, checkpoint {'written' if t.checkpoint else 'MISSING'}, "
                  f"--resume {'offered' if t.resume else 'NOT offered'}  ({t.last_line})", flush=True)
    finally:
        for p in loads:
            p.kill()
            p.wait()
    times = [t.seconds for t in tries]
    within = sum(1 for s in times if s <= GOAL_S)
    clean = sum(1 for t in tries if t.artifact and t.checkpoint and t.resume)
    print(f"max {max(times):.2f} s, median {statistics.median(times):.2f} s; {within}/{len(tries)} within {GOAL_S:.0f} s; "
          f"{clean}/{len(tries)} wrote the artifact and the checkpoint and offered --resume; "
          f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
