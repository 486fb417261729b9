"""Scale-out figures (issue 11), in one run, against loopback fault servers (tests/fault_server.py), each in
its own process so the client's timings are not shared with the servers' threads:

1. one endpoint taking 8 calls at once, 100 ms each: `opro eval` calls/s and 429 share at -j 32, adaptive,
   against -j 8 (the endpoint's own limit) and -j 32 with the old fixed window (today's behaviour before);
2. two deployments of 100 ms, max_parallel 4 each, against one: throughput ratio and each one's share;
3. rpm: two deployments with rpm 20 each and 60 examples: the arrivals of every deployment, as the servers
   logged them, are checked over every 60-second window (one starting at each arrival); the run lasts > 60 s;
4. one of two deployments killed mid-run: examples scored, per-example rewards against a healthy run;
5. `opro eval` calls/s against a bare `litellm.acompletion` loop at the same concurrency, zero latency;
6. peak RSS of `opro eval` (a fresh process each) on 10,000 and 100,000 examples (1,000 distinct reviews
   repeated, answered from a warm response cache, so the run measures the pipeline, not the provider).

    .venv/bin/python benchmarks/scale.py            # ~3-4 min; prints the figures, updates results.md
    .venv/bin/python benchmarks/scale.py --quick    # small sizes, no rpm minute, nothing written (smoke test)
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import toy_model  # noqa: E402
from artifact_factory import ONE_WORD, make_artifact  # noqa: E402
from server_task import KEY, KEY_ENV, write_server_task  # noqa: E402
from toy_task import write_rows, write_toy_task  # noqa: E402

SECTION = "## Scale (issue 11)"
MARKER = "<!-- sections below are written by other benchmarks; run.py keeps them -->"


# -- servers in their own processes --------------------------------------------------------------------------

def _serve(conn: Any, options: dict[str, Any]) -> None:
    from fault_server import FaultServer

    server = FaultServer(**options).start()
    conn.send(server.url)
    while True:
        command = conn.recv()
        if command == "stats":
            conn.send({"requests": server.requests, "served": server.served, "faults": server.faults,
                       "arrivals": server.arrivals, "max_in_flight": server.max_in_flight})
        elif command == "reset":
            server.reset_counters()
            conn.send(None)
        elif command == "stop":
            server.stop()
            conn.send(None)
            return


class Server:
    """A FaultServer in a child process (its own GIL); `stop()` kills it: connection refused from then on."""

    def __init__(self, **options: Any) -> None:
        self._conn, child = multiprocessing.Pipe()
        self._process = multiprocessing.Process(target=_serve, args=(child, options), daemon=True)
        self._process.start()
        self.url = self._conn.recv()

    def _ask(self, command: str) -> Any:
        self._conn.send(command)
        return self._conn.recv()

    def stats(self) -> dict[str, Any]:
        return self._ask("stats")

    def reset(self) -> None:
        self._ask("reset")

    def stop(self) -> None:
        if self._process.is_alive():
            self._ask("stop")
            self._process.join(5)


class Endpoint:
    """Stand-in for write_server_task, which only reads `.url`."""

    def __init__(self, url: str) -> None:
        self.url = url


# -- an eval through the jobs API (what `opro eval` runs, without its start-up) ------------------------------

def eval_task(work: Path, examples: int, model: dict[str, Any]) -> tuple[Path, Path]:
    """The toy task with `model`, `examples` test rows and an artifact (ONE_WORD, no optimisation)."""
    work.mkdir(parents=True, exist_ok=True)
    task = write_server_task(work, Endpoint("http://unused/v1"), timeout=5.0, model=model)
    write_rows(task.test, toy_model.synthetic_reviews(examples, 11))
    make_artifact(task.spec, task.artifact, ONE_WORD)
    return task.artifact, task.test


def run_eval(artifact_path: Path, data: Path, concurrency: int, adaptive: bool = True) -> dict[str, Any]:
    from opro_cli.artifact import load_artifact
    from opro_cli.jobs import evaluate_prompt
    from opro_cli.lm import LM, RetryPolicy

    artifact = load_artifact(artifact_path)
    lm = LM(concurrency=concurrency, retry=RetryPolicy(attempts=30), adaptive=adaptive)
    started = time.perf_counter()
    result = evaluate_prompt(artifact.task_spec(), artifact.prompt, data, artifact, lm=lm)
    seconds = time.perf_counter() - started
    rewards = list(result.rewards)
    result.rows.close()
    return {"seconds": seconds, "examples": len(rewards), "rate": len(rewards) / seconds, "rewards": rewards,
            "score": sum(rewards) / len(rewards), "calls": lm.usage.calls, "retries": lm.usage.retries}


def plain(url: str) -> dict[str, Any]:
    return {"api_base": url}


def pool(*urls: str, **each: Any) -> dict[str, Any]:
    return {"api_base": None, "deployments": [{"api_base": url, **each} for url in urls]}


# -- the figures -----------------------------------------------------------------------------------------------

def one_endpoint(work: Path, examples: int) -> dict[str, Any]:
    server = Server(latency=0.1, capacity=8)
    artifact, data = eval_task(work / "one", examples, plain(server.url))
    out: dict[str, Any] = {}
    for name, j, adaptive in (("j8", 8, True), ("j32", 32, True), ("j32_fixed", 32, False)):
        server.reset()
        run = run_eval(artifact, data, j, adaptive)
        stats = server.stats()
        rejected = stats["faults"].get("over-capacity", 0)
        out[name] = {"rate": run["rate"], "requests": stats["requests"], "rejected": rejected,
                     "rejected_share": rejected / stats["requests"], "max_in_flight": stats["max_in_flight"]}
    server.stop()
    return out


def two_deployments(work: Path, examples: int) -> dict[str, Any]:
    a, b = Server(latency=0.1), Server(latency=0.1)
    one_artifact, data = eval_task(work / "pool1", examples, pool(a.url, max_parallel=4))
    two_artifact, _ = eval_task(work / "pool2", examples, pool(a.url, b.url, max_parallel=4))
    one = run_eval(one_artifact, data, 32)
    a.reset()
    two = run_eval(two_artifact, data, 32)
    served = [a.stats()["served"], b.stats()["served"]]
    a.stop()
    b.stop()
    return {"one_rate": one["rate"], "two_rate": two["rate"], "ratio": two["rate"] / one["rate"],
            "shares": [s / sum(served) for s in served]}


def rpm_limit(work: Path, rpm: int, examples: int, queue: Any) -> None:
    """In its own process (it waits out a minute while the others measure). Puts its figures on `queue`."""
    servers = [Server(), Server()]
    artifact, data = eval_task(work / "rpm", examples, pool(*(s.url for s in servers), rpm=rpm))
    run = run_eval(artifact, data, 8)
    worst = []
    for server in servers:
        arrivals = sorted(server.stats()["arrivals"])
        # Every 60 s window [t, t + 60) that starts at an arrival: the busiest window always starts at one.
        worst.append(max((bisect.bisect_left(arrivals, t + 60.0) - i for i, t in enumerate(arrivals)), default=0))
        server.stop()
    queue.put({"rpm": rpm, "examples": run["examples"], "seconds": run["seconds"], "worst_window": worst})


def kill_one(work: Path, examples: int) -> dict[str, Any]:
    a, b = Server(latency=0.02), Server(latency=0.02)
    artifact, data = eval_task(work / "kill", examples, pool(a.url, b.url))
    healthy = run_eval(artifact, data, 8)
    a.reset()
    b.reset()

    async def killed() -> dict[str, Any]:
        task = asyncio.get_running_loop().run_in_executor(None, run_eval, artifact, data, 8)
        while b.stats()["served"] < examples // 4:
            await asyncio.sleep(0.01)
        b.stop()
        return await task

    run = asyncio.run(killed())
    served_a = a.stats()["served"]
    a.stop()
    return {"examples": examples, "healthy_scored": healthy["examples"], "killed_scored": run["examples"],
            "same_rewards": run["rewards"] == healthy["rewards"], "healthy_score": healthy["score"],
            "killed_score": run["score"], "retries": run["retries"], "served_by_survivor": served_a}


def bare_loop(url: str, data: Path, concurrency: int) -> float:
    """calls/s of litellm.acompletion alone over the same messages, at the same concurrency."""
    import json

    import litellm

    reviews = [json.loads(line)["review"] for line in data.read_text().splitlines()]

    async def main() -> float:
        slots = asyncio.Semaphore(concurrency)

        async def one(review: str) -> Any:
            async with slots:
                return await litellm.acompletion(
                    model="openai/toy", api_base=url, api_key=KEY, timeout=5.0, num_retries=0, max_retries=0,
                    messages=[{"role": "system", "content": ONE_WORD}, {"role": "user", "content": f"Review: {review}"}])

        started = time.perf_counter()
        await asyncio.gather(*(one(r) for r in reviews))
        return len(reviews) / (time.perf_counter() - started)

    return asyncio.run(main())


def overhead(work: Path, examples: int, rounds: int) -> dict[str, Any]:
    server = Server()
    artifact, data = eval_task(work / "overhead", examples, plain(server.url))
    opro_rates, bare_rates = [], []
    for _ in range(rounds):  # interleaved, so both see the same machine load
        bare_rates.append(bare_loop(server.url, data, 8))
        opro_rates.append(run_eval(artifact, data, 8)["rate"])
    server.stop()
    return {"opro": max(opro_rates), "bare": max(bare_rates), "ratio": max(opro_rates) / max(bare_rates)}


def peak_rss(work: Path, sizes: list[int], distinct_reviews: int) -> dict[int, float]:
    """MB of peak RSS of `opro eval` in a fresh process per size, answers from a warm cache."""
    (work / "rss").mkdir(parents=True)
    task = write_toy_task(work / "rss")
    make_artifact(task.spec, task.artifact, ONE_WORD)
    distinct = toy_model.synthetic_reviews(distinct_reviews, 13)
    cache = work / "rss" / "cache"
    launcher = (f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r}); import toy_provider; "
                "toy_provider.register(); from opro_cli.cli import app; app()")
    out: dict[int, float] = {}
    for size in [distinct_reviews, *sizes]:  # the first run fills the cache
        data = work / "rss" / f"test-{size}.jsonl"
        write_rows(data, [distinct[i % len(distinct)] for i in range(size)])
        child = subprocess.Popen([sys.executable, "-c", launcher, "eval", str(task.artifact), "--data", str(data),
                                  "--cache-dir", str(cache), "-q", "-j", "8", "-o", str(work / "rss" / f"r-{size}.jsonl")],
                                 cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
        if status != 0:
            raise SystemExit(f"opro eval on {size} examples failed: {child.stderr.read().decode()[-2000:]}")
        if size in sizes:
            out[size] = usage.ru_maxrss / 1024
    return out


# -- report ----------------------------------------------------------------------------------------------------

def report(r: dict[str, Any], command: str) -> str:
    one, two, rpm, kill, over, rss = r["one"], r["two"], r["rpm"], r["kill"], r["overhead"], r["rss"]
    j8, j32, fixed = one["j8"], one["j32"], one["j32_fixed"]
    small, large = min(rss), max(rss)
    rows = [
        ("one endpoint, 8 in flight at 100 ms (80 calls/s at most): -j 32 adaptive",
         f"{j32['rate']:.1f} calls/s = {j32['rate'] / 80:.0%} of the limit, {j32['rate'] / j8['rate']:.2f}x -j 8 "
         f"({j8['rate']:.1f}/s), {j32['rate'] / fixed['rate']:.2f}x the old fixed window "
         f"({fixed['rate']:.1f}/s); max in flight {j32['max_in_flight']}",
         ">= 68/s (85%)"),
        ("  429 share at -j 32", f"{j32['rejected_share']:.1%} ({j32['rejected']} of {j32['requests']} requests); "
         f"old fixed window {fixed['rejected_share']:.1%}", "<= 5%"),
        ("two deployments of 100 ms, max_parallel 4, vs one",
         f"{two['ratio']:.2f}x ({two['two_rate']:.1f} vs {two['one_rate']:.1f} calls/s); shares "
         + " / ".join(f"{s:.0%}" for s in two["shares"]), ">= 1.8x, each >= 35%"),
        (f"rpm {rpm['rpm']} on each of two deployments, {rpm['examples']} examples" if rpm else "rpm",
         "skipped (--quick)" if not rpm else
         f"busiest 60 s window: {' / '.join(map(str, rpm['worst_window']))} requests; run {rpm['seconds']:.0f} s",
         "never above rpm"),
        ("one of two deployments killed after a quarter of the examples",
         f"{kill['killed_scored']}/{kill['examples']} scored, per-example rewards identical to a healthy run: "
         f"{'yes' if kill['same_rewards'] else 'NO'} (score {kill['killed_score']:.1%} vs {kill['healthy_score']:.1%}); "
         f"{kill['retries']} retries", "none lost, same scores"),
        ("`opro eval` vs bare litellm.acompletion loop, -j 8, zero latency",
         f"{over['ratio']:.2f}x ({over['opro']:.0f} vs {over['bare']:.0f} calls/s, best of each)", ">= 0.9x"),
        (f"peak RSS of `opro eval`, {small:,} vs {large:,} examples",
         f"{rss[small]:.0f} MB vs {rss[large]:.0f} MB ({rss[large] / rss[small]:.2f}x for {large // small}x the data)",
         "flat"),
    ]
    lines = [SECTION, "", f"- command: `{command}`; date: {r['date']}; total {r['seconds']:.0f} s; "
             f"load average at start {r['load'][0]:.1f} (2 cores, shared: absolute rates are noisy, ratios within "
             "the run are what count)", "- every server is a tests/fault_server.py in its own process; rates are "
             "`opro eval` through the jobs API (start-up excluded)", "",
             "| figure | measured | target |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    """Replace this benchmark's section of results.md (below the marker run.py keeps), or add it."""
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if MARKER not in current:
        current = current.rstrip("\n") + f"\n\n{MARKER}\n"
    head, tail = current.split(MARKER, 1)
    sections = [s for s in ("\n" + tail).split("\n## ") if s.strip() and not ("## " + s.strip()).startswith(SECTION)]
    kept = "".join("\n## " + s.strip("\n") + "\n" for s in sections)
    path.write_text(f"{head}{MARKER}\n{kept}\n{text}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, no rpm minute, results.md untouched")
    args = parser.parse_args()
    os.environ[KEY_ENV] = KEY
    os.environ["OPRO_RETRY_BASE_DELAY"] = "0.05"
    started, load = time.perf_counter(), os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="opro-scale-"))
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load": load}
    queue: Any = multiprocessing.Queue()
    rpm_run = None
    if not args.quick:  # started before litellm is imported here: a fork is then a clean copy
        rpm_run = multiprocessing.Process(target=rpm_limit, args=(work, 20, 60, queue))  # starts servers: not a daemon
        rpm_run.start()
    import litellm  # noqa: F401 - imported once, before any timing

    quick = args.quick
    results["one"] = one_endpoint(work, 60 if quick else 800)
    print("one endpoint:", {k: round(v["rate"], 1) for k, v in results["one"].items()}, flush=True)
    results["two"] = two_deployments(work, 40 if quick else 400)
    print("two deployments:", round(results["two"]["ratio"], 2), flush=True)
    results["kill"] = kill_one(work, 40 if quick else 400)
    print("kill one:", results["kill"]["same_rewards"], flush=True)
    results["overhead"] = overhead(work, 50 if quick else 600, 1 if quick else 3)
    print("overhead ratio:", round(results["overhead"]["ratio"], 2), flush=True)
    results["rss"] = peak_rss(work, [200, 400] if quick else [10_000, 100_000], 100 if quick else 1000)
    print("peak RSS:", results["rss"], flush=True)
    results["rpm"] = queue.get() if rpm_run is not None else {}
    results["seconds"] = time.perf_counter() - started
    command = "python benchmarks/scale.py" + (" --quick" if quick else "")
    text = report(results, command)
    print(text)
    if not quick:
        write_section(ROOT / "benchmarks" / "results.md", text)


if __name__ == "__main__":
    main()
