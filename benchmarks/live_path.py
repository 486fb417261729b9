"""The live path's speed (issue 28, point 6), side by side in one run against one loopback OpenAI-compatible
server (tests/fault_server.py, in its own process, zero latency): 2,000 calls at -j 16 by

1. the bare openai SDK (AsyncOpenAI.chat.completions.create), the ceiling of a Python client here;
2. bare `litellm.acompletion` under a semaphore, the baseline `opro eval` is held to (>= 0.9x);
3. `opro eval` as the CLI runs it (the response cache on, in a fresh directory so every call is a miss and is
   stored; rows streamed to disk; the progress callback), timed inside the run;

interleaved over `--rounds` with a pause after each (best of each, and the ratio within each round), then a
cProfile of one `opro eval` pass with the time spent in opro_cli's own functions (cache key, cache, scoring,
rows, progress) per call.

    .venv/bin/python benchmarks/live_path.py                 # ~1-2 min
    .venv/bin/python benchmarks/live_path.py --calls 500     # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# This checkout's opro_cli, not the one installed (a worktree measures its own code), and scale.py beside it.
sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]
from scale import KEY, KEY_ENV, ONE_WORD, Server, bare_loop, eval_task, plain  # noqa: E402

os.environ.setdefault(KEY_ENV, KEY)


def openai_loop(url: str, data: Path, concurrency: int) -> float:
    """calls/s of the openai SDK alone over the same messages."""
    from openai import AsyncOpenAI

    reviews = [json.loads(line)["review"] for line in data.read_text().splitlines()]

    async def main() -> float:
        client = AsyncOpenAI(base_url=url, api_key=KEY, max_retries=0, timeout=5.0)
        slots = asyncio.Semaphore(concurrency)

        async def one(review: str) -> Any:
            async with slots:
                return await client.chat.completions.create(model="toy", messages=[
                    {"role": "system", "content": ONE_WORD}, {"role": "user", "content": f"Review: {review}"}])

        started = time.perf_counter()
        await asyncio.gather(*(one(r) for r in reviews))
        rate = len(reviews) / (time.perf_counter() - started)
        await client.close()
        return rate

    return asyncio.run(main())


def litellm_free_loop(url: str, data: Path, concurrency: int) -> float:
    """calls/s of bare litellm.acompletion given the zero prices `opro eval` passes for a model litellm cannot
    price (routing.FREE), so litellm skips its price search on every answer: the stricter baseline."""
    import litellm

    reviews = [json.loads(line)["review"] for line in data.read_text().splitlines()]

    async def main() -> float:
        slots = asyncio.Semaphore(concurrency)

        async def one(review: str) -> Any:
            async with slots:
                return await litellm.acompletion(
                    model="openai/toy", api_base=url, api_key=KEY, timeout=5.0, num_retries=0, max_retries=0,
                    input_cost_per_token=0.0, output_cost_per_token=0.0,
                    messages=[{"role": "system", "content": ONE_WORD}, {"role": "user", "content": f"Review: {review}"}])

        started = time.perf_counter()
        await asyncio.gather(*(one(r) for r in reviews))
        return len(reviews) / (time.perf_counter() - started)

    return asyncio.run(main())


def opro_eval(artifact_path: Path, data: Path, concurrency: int, profile: cProfile.Profile | None = None) -> float:
    """calls/s of `opro eval`'s job as the CLI runs it: cache on (all misses), rows on disk, progress ticks."""
    from opro_cli.jobs import CallOptions, evaluate

    with tempfile.TemporaryDirectory() as cache:
        lm = CallOptions(cache_dir=Path(cache), concurrency=concurrency, retries=30).make_lm(concurrency)
        ticks = []
        started = time.perf_counter()
        if profile:
            profile.enable()
        result = evaluate(artifact_path, data, lm=lm, on_progress=lambda p: ticks.append(p.done),
                          rows_near=Path(cache) / "r.jsonl")
        if profile:
            profile.disable()
        seconds = time.perf_counter() - started
        assert result.examples == lm.usage.calls, "every call should be a miss"
        result.rows.close()
        lm.cache.close()
    return result.examples / seconds


def ours(profile: cProfile.Profile, calls: int) -> list[tuple[str, float]]:
    """Microseconds per call of opro_cli's own functions (their own time, not litellm's), largest first."""
    stats = pstats.Stats(profile)
    out = []
    for (file, line, name), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        if "/opro_cli/" in file:
            out.append((f"{file.split('/opro_cli/')[1]}:{line} {name}", tottime / calls * 1e6))
    return sorted(out, key=lambda row: -row[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", "-j", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    # litellm hands each answer's logging to worker threads that run on after a loop ends: without a pause they
    # compete for the GIL with whichever loop comes next (0.82x rather than 0.86x for opro eval, measured here).
    parser.add_argument("--settle", type=float, default=3.0, help="seconds of pause after each loop")
    args = parser.parse_args()
    started = time.perf_counter()
    import litellm  # noqa: F401 - imported before the clocks start, as a long-running process has it

    print(f"importing litellm: {time.perf_counter() - started:.1f} s")
    server = Server()
    with tempfile.TemporaryDirectory() as work:
        artifact, data = eval_task(Path(work) / "live", args.calls, plain(server.url))
        loops = {"openai SDK": lambda: openai_loop(server.url, data, args.concurrency),
                 "litellm.acompletion": lambda: bare_loop(server.url, data, args.concurrency),
                 "litellm, zero prices": lambda: litellm_free_loop(server.url, data, args.concurrency),
                 "opro eval": lambda: opro_eval(artifact, data, args.concurrency)}
        rates: dict[str, list[float]] = {name: [] for name in loops}
        for _ in range(args.rounds):  # interleaved: every one sees the same load
            for name, loop in loops.items():
                rates[name].append(loop())
                time.sleep(args.settle)
        profile = cProfile.Profile()
        opro_eval(artifact, data, args.concurrency, profile)
    server.stop()
    best = {name: max(values) for name, values in rates.items()}
    base = best["litellm.acompletion"]
    print(f"\n{args.calls} calls at -j {args.concurrency}, loopback, best of {args.rounds} (measured on this machine now)")
    for name, rate in best.items():
        print(f"  {name:<22} {rate:7.0f} calls/s   {rate / base:5.2f}x litellm   (all: {', '.join(f'{r:.0f}' for r in rates[name])})")
    print(f"  opro eval / litellm with the same zero prices: {best['opro eval'] / best['litellm, zero prices']:.2f}x")
    # The best of each is noisy on a small machine; the ratio within each round (both loops a few seconds apart)
    # is the steadier figure.
    paired = sorted(o / b for o, b in zip(rates["opro eval"], rates["litellm.acompletion"]))
    print(f"  opro eval / litellm within each round: median {statistics.median(paired):.2f}x "
          f"(min {paired[0]:.2f}, max {paired[-1]:.2f})")
    print(f"\nopro_cli's own time per call (cProfile, which inflates it), top 12:")
    for where, micros in ours(profile, args.calls)[:12]:
        print(f"  {micros:8.1f} us  {where}")
    print(f"  {sum(m for _, m in ours(profile, args.calls)):8.1f} us  in all opro_cli functions")


if __name__ == "__main__":
    main()
