"""The live path's speed (issue 28, point 6), side by side in one run against one loopback OpenAI-compatible
server (tests/fault_server.py, in its own process, zero latency): 2,000 calls at -j 16 by

1. the bare openai SDK (AsyncOpenAI.chat.completions.create), the ceiling of a Python client here;
2. bare `litellm.acompletion` under a semaphore, the baseline `opro eval` is held to (>= 0.9x);
3. `opro eval` as the CLI runs it (the response cache on, in a fresh directory so every call is a miss and is
   stored; rows streamed to disk; the progress callback), timed inside the run;

interleaved over `--rounds` (best of each, so all see the same load), then a cProfile of one `opro eval` pass
with the time spent in opro_cli's own functions (cache key, cache, scoring, rows, progress) per call.

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
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
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
    args = parser.parse_args()
    started = time.perf_counter()
    import litellm  # noqa: F401 - imported before the clocks start, as a long-running process has it

    print(f"importing litellm: {time.perf_counter() - started:.1f} s")
    server = Server()
    with tempfile.TemporaryDirectory() as work:
        artifact, data = eval_task(Path(work) / "live", args.calls, plain(server.url))
        rates: dict[str, list[float]] = {"openai SDK": [], "litellm.acompletion": [], "litellm, zero prices": [],
                                         "opro eval": []}
        for _ in range(args.rounds):  # interleaved: every one sees the same load
            rates["openai SDK"].append(openai_loop(server.url, data, args.concurrency))
            rates["litellm.acompletion"].append(bare_loop(server.url, data, args.concurrency))
            rates["litellm, zero prices"].append(litellm_free_loop(server.url, data, args.concurrency))
            rates["opro eval"].append(opro_eval(artifact, data, args.concurrency))
        profile = cProfile.Profile()
        opro_eval(artifact, data, args.concurrency, profile)
    server.stop()
    best = {name: max(values) for name, values in rates.items()}
    base = best["litellm.acompletion"]
    print(f"\n{args.calls} calls at -j {args.concurrency}, loopback, best of {args.rounds} (measured on this machine now)")
    for name, rate in best.items():
        print(f"  {name:<22} {rate:7.0f} calls/s   {rate / base:5.2f}x litellm   (all: {', '.join(f'{r:.0f}' for r in rates[name])})")
    print(f"  opro eval / litellm with the same zero prices: {best['opro eval'] / best['litellm, zero prices']:.2f}x")
    print(f"\nopro_cli's own time per call (cProfile, which inflates it), top 12:")
    for where, micros in ours(profile, args.calls)[:12]:
        print(f"  {micros:8.1f} us  {where}")
    print(f"  {sum(m for _, m in ours(profile, args.calls)):8.1f} us  in all opro_cli functions")


if __name__ == "__main__":
    main()
