"""`opro predict`'s speed and memory (issue 34), in one run against a loopback OpenAI-compatible server in its own
process (tests/fault_server.py, zero latency):

1. calls/s of the predict job as the CLI runs it (a fresh response cache, so every call is a miss and is stored
   as it comes; every row written to the output) beside a bare `litellm.acompletion` loop at the same
   concurrency over the same messages, and `opro eval`'s job for reference, interleaved over `--rounds` with a
   pause after each (litellm's logging threads run on after a loop); the ratio within each round and the best;
2. peak RSS of `opro predict` in a fresh process per size (1,000 distinct reviews, or fewer for smaller sizes, repeated, answered from a warm
   response cache, so the run measures the pipeline, not the provider): flat means streaming.

    .venv/bin/python benchmarks/predict.py                           # ~6-10 min alone (1,000,000 rows)
    .venv/bin/python benchmarks/predict.py --sizes 1000,10000 --calls 500 --rounds 1   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]
from scale import KEY, KEY_ENV, ONE_WORD, ROOT, Server, bare_loop, eval_task, plain  # noqa: E402

import toy_model  # noqa: E402 - tests/ is on the path through scale

os.environ.setdefault(KEY_ENV, KEY)


def predict_job(artifact: Path, data: Path, concurrency: int) -> float:
    """calls/s of `opro predict`'s job: cache on (all misses, stored as they come), every row to the output."""
    from opro_cli.jobs import CallOptions
    from opro_cli.jobs.predicting import predict

    with tempfile.TemporaryDirectory() as work:
        lm = CallOptions(cache_dir=Path(work), concurrency=concurrency, retries=30).make_lm(concurrency)
        started = time.perf_counter()
        result = predict(artifact, data, Path(work) / "out.jsonl", lm=lm, on_progress=lambda p: None)
        seconds = time.perf_counter() - started
        assert result.rows == lm.usage.calls, "every call should be a miss"
        lm.cache.close()
    return result.rows / seconds


def eval_job(artifact: Path, data: Path, concurrency: int) -> float:
    """calls/s of `opro eval`'s job, the same way (live_path.py measures it in more detail)."""
    from opro_cli.jobs import CallOptions, evaluate

    with tempfile.TemporaryDirectory() as work:
        lm = CallOptions(cache_dir=Path(work), concurrency=concurrency, retries=30).make_lm(concurrency)
        started = time.perf_counter()
        result = evaluate(artifact, data, lm=lm, on_progress=lambda p: None, rows_near=Path(work) / "r.jsonl")
        seconds = time.perf_counter() - started
        result.rows.close()
        lm.cache.close()
    return result.examples / seconds


def high_water(pid: int) -> float:
    """MB of a running process's peak RSS (VmHWM). Not the rusage `ru_maxrss` of a reaped child: a fork (or
    vfork) carries the parent's high-water mark into the child's, so a child of this process, which holds the
    rows it wrote and litellm, would report the parent's size (426 MB at 1,000,000 rows, against 221 MB seen by
    /usr/bin/time for the same command started from a shell)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_rss(work: Path, artifact: Path, sizes: list[int], distinct: int) -> dict[int, tuple[float, float]]:
    """{rows: (MB of peak RSS, seconds)} of `opro predict` in a fresh process each, from a warm cache."""
    reviews = toy_model.synthetic_reviews(distinct, 13)
    cache = work / "rss-cache"
    out: dict[int, tuple[float, float]] = {}
    for size in [distinct, *sizes]:  # the first run fills the cache from the server
        data = work / f"rows-{size}.jsonl"
        with data.open("w", encoding="utf-8") as handle:  # streamed: this process stays small
            for i in range(size):
                handle.write(json.dumps({"review": reviews[i % distinct][0], "label": reviews[i % distinct][1]}) + "\n")
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "opro_cli.cli", "predict", str(artifact), "--data", str(data),
                                  "-o", str(work / f"p-{size}.jsonl"), "--cache-dir", str(cache), "-q", "-j", "8"],
                                 cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
        peak = 0.0
        while child.poll() is None:  # the child's own high-water mark (see `high_water`)
            peak = max(peak, high_water(child.pid))
            time.sleep(0.1)
        if child.returncode != 0:
            raise SystemExit(f"opro predict on {size} rows failed: {child.stderr.read().decode()[-2000:]}")
        if size in sizes:
            out[size] = (peak, time.perf_counter() - started)
        (work / f"p-{size}.jsonl").unlink()
        data.unlink()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", "-j", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds of pause after each loop")
    parser.add_argument("--sizes", default="1000,10000,1000000", help="rows for the peak-memory runs")
    parser.add_argument("--only", choices=("speed", "memory"), help="one half (memory is no timing: it may share the machine)")
    args = parser.parse_args()
    import litellm  # noqa: F401 - imported before the clocks start, as a long-running process has it

    load = os.getloadavg()
    server = Server()
    with tempfile.TemporaryDirectory() as work:
        artifact, data = eval_task(Path(work) / "live", args.calls, plain(server.url))
        loops = {"litellm.acompletion": lambda: bare_loop(server.url, data, args.concurrency),
                 "opro predict": lambda: predict_job(artifact, data, args.concurrency),
                 "opro eval": lambda: eval_job(artifact, data, args.concurrency)}
        rates: dict[str, list[float]] = {name: [] for name in loops}
        for _ in range(args.rounds if args.only != "memory" else 0):  # interleaved: every one sees the same load
            for name, loop in loops.items():
                rates[name].append(loop())
                time.sleep(args.settle)
        sizes = [int(size) for size in args.sizes.split(",")]
        rss = peak_rss(Path(work), artifact, sizes, min(1000, sizes[0])) if args.only != "speed" else {}
    server.stop()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average before {load[0]:.2f}; "
          f"{args.calls} calls at -j {args.concurrency}, loopback, {args.rounds} rounds")
    if rates["litellm.acompletion"]:
        print_rates(rates)
    if rss:
        print("peak RSS of `opro predict` (fresh process, answers from a warm cache):")
    for size, (mb, seconds) in rss.items():
        print(f"  {size:>9,} rows  {mb:6.1f} MB  {seconds:7.1f} s  ({size / seconds:,.0f} rows/s)")


def print_rates(rates: dict[str, list[float]]) -> None:
    base = max(rates["litellm.acompletion"])
    for name, values in rates.items():
        print(f"  {name:<20} best {max(values):6.0f} calls/s  {max(values) / base:5.2f}x litellm  "
              f"(all: {', '.join(f'{v:.0f}' for v in values)})")
    for name in ("opro predict", "opro eval"):
        paired = sorted(o / b for o, b in zip(rates[name], rates["litellm.acompletion"]))
        print(f"  {name} / litellm within each round: median {statistics.median(paired):.2f}x "
              f"(min {paired[0]:.2f}, max {paired[-1]:.2f})")


if __name__ == "__main__":
    main()
