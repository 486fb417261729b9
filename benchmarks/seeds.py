"""Does every seed give the same clear gain? Today's search and the new one, side by side, in one run.

For each task and each seed, `opro optimize` runs with the default optimiser settings, once with the search
of a baseline git revision (checked out of this repository's history into a temporary directory and run in a
subprocess) and once with this tree's; then both artifacts' prompts, and the seed prompt, are scored on the
task's held-out test file, which the optimiser never sees. Per task and search it prints the mean, min and
max test score over the seeds, the spread, how many seeds ended below the seed prompt, the mean LM requests
per run (cached answers included, so the figure is the search's cost, not the cache's luck), and the paired
95 % interval of new minus baseline over all (seed, test example) pairs, with how many seeds' runs changed
(and how many of those went up): one flipped seed moves an interval over 60-120 examples per seed, so the count
is the figure to read beside it.

Both searches share one response cache: the model's answers are deterministic (temperature 0, seeded), so a
request the baseline made is not sent again for the new search, and a change is measured for the price of
the calls it changes. Decide a change on some seeds, then confirm it on fresh ones:
`--seeds 5` runs seeds 0-4, `--first-seed 5 --seeds 5` seeds 5-9.

    python benchmarks/seeds.py                        # 5 seeds, every task, baseline = the pre-racing search
    python benchmarks/seeds.py --seeds 2 --tasks topic --baseline-rev HEAD~3
    python benchmarks/seeds.py --first-seed 5 --seeds 5 --baseline-rev main --work DIR    # confirm on seeds 5-9
    python benchmarks/seeds.py --tasks room --searches new --budget heavy    # what more calls buy

Tasks: the examples in configs/ and the benchmark-only tasks in benchmarks/tasks/ (not tuned on); `past`,
`addition` and `product` are the weak-signal tasks of issue 29 (36 labelled examples, the seed prompt at 0 %). The baseline runs
on this tree's embedded-model engine (`export_baseline`), so a comparison is of searches only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from opro_cli.data import Dataset, load_dataset  # noqa: E402
from opro_cli.scoring.answers import OutputField  # noqa: E402
from opro_cli.scoring.runner import TaskRunner, resolve_format  # noqa: E402
from opro_cli.lm import LM  # noqa: E402
from opro_cli.lm.cache import ResponseCache  # noqa: E402
from opro_cli.scoring.prompt import Prompt, Shot  # noqa: E402
from opro_cli.spec import TaskSpec, load_spec  # noqa: E402
from opro_cli.scoring.stats import paired_bootstrap  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BASELINE_REV = "4bf57c9"  # the last commit before racing: one shot set per step, 30 % validation split
TASKS = {
    "topic": ("configs/topic.yaml", "datasets/topic_train.jsonl", "datasets/topic_test.jsonl"),
    "sentiment": ("configs/sentiment.yaml", "datasets/sentiment_train.jsonl", "datasets/sentiment_test.jsonl"),
    "sentiment_text": ("benchmarks/tasks/sentiment_text.yaml", "datasets/sentiment_train.jsonl", "datasets/sentiment_test.jsonl"),
    "sentiment_skew": ("benchmarks/tasks/sentiment_text.yaml", "benchmarks/tasks/sentiment_skew_train.jsonl",
                       "datasets/sentiment_test.jsonl"),
    "intent": ("benchmarks/tasks/intent.yaml", "benchmarks/tasks/intent_train.jsonl", "benchmarks/tasks/intent_test.jsonl"),
    "emotion": ("benchmarks/tasks/emotion.yaml", "benchmarks/tasks/emotion_train.jsonl", "benchmarks/tasks/emotion_test.jsonl"),
    "weather": ("benchmarks/tasks/weather.yaml", "benchmarks/tasks/weather_train.jsonl", "benchmarks/tasks/weather_test.jsonl"),
    "room": ("benchmarks/tasks/room.yaml", "benchmarks/tasks/room_train.jsonl", "benchmarks/tasks/room_test.jsonl"),
    "room_large": ("benchmarks/tasks/room.yaml", "benchmarks/tasks/room_large_train.jsonl",
                   "benchmarks/tasks/room_test.jsonl"),
    "sport": ("benchmarks/tasks/sport.yaml", "benchmarks/tasks/sport_train.jsonl", "benchmarks/tasks/sport_test.jsonl"),
    "trip": ("benchmarks/tasks/trip.yaml", "benchmarks/tasks/trip_train.jsonl", "benchmarks/tasks/trip_test.jsonl"),
}
# Tasks scored by the reward types of issue 27 (several fields, a number with a tolerance, token F1, the user's
# own function): a baseline revision from before them cannot read their specs, so run them with `--searches new`.
REWARD_TASKS = {
    name: (f"benchmarks/tasks/{name}.yaml", f"benchmarks/tasks/{name}_train.jsonl", f"benchmarks/tasks/{name}_test.jsonl")
    for name in ("booking", "price", "phrase", "grade")
}
TASKS.update(REWARD_TASKS)
# Graded by a `judge` reward (issue 35; the embedded model judges): the baseline must know the judge reward too.
JUDGED_TASKS = {"news": ("benchmarks/tasks/news.yaml", "benchmarks/tasks/news_train.jsonl", "benchmarks/tasks/news_test.jsonl")}
TASKS.update(JUDGED_TASKS)
# Weak signal (issue 29): a pool of 36, the seed prompt at 0 %, a few shots at 10-30 % (make_weak_tasks.py).
WEAK_TASKS = {
    name: (f"benchmarks/tasks/{name}.yaml", f"benchmarks/tasks/{name}_train.jsonl", f"benchmarks/tasks/{name}_test.jsonl")
    for name in ("past", "addition", "product")
}
TASKS.update(WEAK_TASKS)


@dataclass
class Run:
    task: str
    search: str
    seed: int
    test: list[float]
    requests: int
    wall_s: float
    validation: float | None

    @property
    def score(self) -> float:
        return statistics.fmean(self.test)


def export_baseline(rev: str, into: Path) -> Path:
    """The baseline's package, as it was at `rev`, importable from `into`, on this tree's embedded-model engine:
    its `local` provider (the glue to llama.cpp, not part of the search) is replaced by this tree's, so the two
    searches are compared on the same model answers, not on two engines."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "opro_cli"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    ours = ROOT / "opro_cli" / "lm"
    for theirs in into.glob("opro_cli/**/local_provider.py"):
        for name in ("local_provider.py", "local_engine.py", "json_grammar.py"):
            text = (ours / name).read_text()
            (theirs.parent / name).write_text(text.replace("from ..errors import", "from opro_cli.errors import"))
    return into


def optimize(code: Path, spec: Path, train: Path, out: Path, seed: int, cache: Path,
             budget: str | None = None) -> tuple[dict[str, Any], float]:
    """One `opro optimize` of the package found in `code`, in a subprocess (so two versions never mix);
    `budget` overrides the spec's (a preset or a number of calls)."""
    env = {**os.environ, "PYTHONPATH": str(code), "OPRO_CACHE_DIR": str(cache), "NO_COLOR": "1"}
    command = [sys.executable, "-c", "from opro_cli.cli import app; app(prog_name='opro')", "optimize", str(spec),
               "--data", str(train), "-o", str(out), "--seed", str(seed), "-q",
               *(["--budget", budget] if budget else [])]
    start = time.perf_counter()
    # cwd = the package's own directory: `python -c` puts the working directory first on sys.path.
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=code)
    if done.returncode != 0:
        raise SystemExit(f"optimize failed ({code}): {done.stderr.strip()[-2000:]}")
    return json.loads(out.read_text()), time.perf_counter() - start


def prompt_from_json(entry: dict[str, Any]) -> Prompt:
    """A prompt from an artifact's JSON: the artifact itself, or a candidate's `prompt` in its history."""
    return Prompt(instructions=entry["instructions"], shots=tuple(Shot(**shot) for shot in entry["shots"]))


def prompt_rewards(spec: TaskSpec, prompt: Prompt, data: Dataset, lm: LM, record: dict[str, Any] | None = None,
                   structured: bool = False) -> list[float]:
    """Per-example rewards of one prompt on `data`, in the answer format an artifact recorded (`record`: its
    `answer_format` JSON, with `structured` the mode to use) or, without one, the spec's as resolved on `data`."""
    fmt = resolve_format(spec, spec.model, [e.expected for e in data.examples])
    if record is not None:
        outputs = tuple(OutputField(o["name"], o["type"], tuple(o["choices"])) for o in record.get("outputs") or [])
        fmt = replace(fmt, choices=tuple(record["choices"]) or fmt.choices, structured=structured,
                      outputs=outputs or fmt.outputs)
    runner = TaskRunner(spec, spec.model, fmt, lm)
    return [p.reward for p in asyncio.run(runner.predict(prompt, data.examples))]


def test_rewards(spec: TaskSpec, artifact: dict[str, Any] | None, test: Path, lm: LM, seed_format: bool = False) -> list[float]:
    """Per-example test rewards of an artifact's prompt (or of the seed prompt, in the seed's answer format),
    read from the artifact's JSON so artifacts of either version can be scored by the same code."""
    data = load_dataset(test, spec)
    seed_prompt = Prompt(instructions=spec.prompt.instructions)
    if artifact is None:
        return prompt_rewards(spec, seed_prompt, data, lm)
    record = artifact["answer_format"]
    structured = bool(record["seed_structured"] if seed_format else record["structured"])
    return prompt_rewards(spec, seed_prompt if seed_format else prompt_from_json(artifact), data, lm, record, structured)


def spread_from_the_test_file(per_seed: list[list[float]], draws: int = 2000) -> tuple[float, float]:
    """The spread the test file alone gives when every seed's prompt is equally good: each test example's rewards
    shuffled among the seeds, so each seed keeps the same examples' difficulty but no prompt is better than
    another. Returns the median spread of those draws, and the share of draws at least as wide as the observed
    spread (a permutation p-value: small means the seeds' prompts really differ in quality, not only in which
    examples they happen to get right). A spread target below the median is out of reach of distinct prompts."""
    def spread(columns: list[list[float]]) -> float:
        means = [statistics.fmean(column[seed] for column in columns) for seed in range(len(per_seed))]
        return max(means) - min(means)

    columns = [list(example) for example in zip(*per_seed)]
    observed, rng, null = spread(columns), random.Random(0), []
    for _ in range(draws):
        for column in columns:
            rng.shuffle(column)
        null.append(spread(columns))
    return statistics.median(null), sum(1 for s in null if s >= observed - 1e-9) / draws


def summarise(task: str, runs: list[Run], seed_rewards: list[float]) -> dict[str, Any]:
    scores = [r.score for r in runs]
    seed_score = statistics.fmean(seed_rewards)
    gain = paired_bootstrap([x for _ in runs for x in seed_rewards], [x for r in runs for x in r.test])
    test_file_spread, p_value = spread_from_the_test_file([r.test for r in runs])
    return {
        "task": task,
        "search": runs[0].search,
        "seeds": len(runs),
        "first_seed": runs[0].seed,
        "seed_prompt": seed_score,
        "mean": statistics.fmean(scores),
        "min": min(scores),
        "max": max(scores),
        "spread": max(scores) - min(scores),
        "spread_from_test_file": test_file_spread,
        "spread_p": p_value,
        "below_seed_prompt": sum(1 for s in scores if s < seed_score - 1e-9),
        "gain_over_seed_prompt": gain.mean_diff,
        "gain_ci95": [gain.low, gain.high],
        "requests": statistics.fmean(r.requests for r in runs),
        "per_seed": [round(s, 4) for s in scores],
    }


def compare(task: str, baseline: list[Run], new: list[Run]) -> dict[str, Any]:
    """New minus baseline, paired over every (seed, test example), and how many seeds' runs changed (their test
    rewards differ) and how many of those went up: each seed's two runs, in seed order."""
    diff = paired_bootstrap([x for r in baseline for x in r.test], [x for r in new for x in r.test])
    moved = [after.score - before.score for after, before in zip(new, baseline) if after.test != before.test]
    return {"task": task, "new_minus_baseline": diff.mean_diff, "ci95": [diff.low, diff.high],
            "runs_changed": len(moved), "runs_up": sum(1 for d in moved if d > 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="how many seeds to run")
    parser.add_argument("--first-seed", type=int, default=0, help="the first of them (seeds are consecutive)")
    parser.add_argument("--tasks", default=",".join(name for name in TASKS if name not in REWARD_TASKS | JUDGED_TASKS),
                        help="comma-separated (default: every task but the reward tasks; name those with --searches new)")
    parser.add_argument("--baseline-rev", default=BASELINE_REV)
    parser.add_argument("--searches", default="baseline,new", help="which searches to run: baseline, new or both")
    parser.add_argument("--work", type=Path, help="keep artifacts and response caches here (a re-run reuses them)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "seeds.json")
    parser.add_argument("--budget", help="the new search's budget (light, medium, heavy or calls); the baseline "
                                         "keeps its spec's default")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="opro-seeds-"))
    wanted = args.searches.split(",")
    searches: dict[str, Path] = {}
    if "baseline" in wanted:
        (work / "baseline").mkdir(parents=True, exist_ok=True)
        searches["baseline"] = export_baseline(args.baseline_rev, work / "baseline")
    if "new" in wanted:
        searches["new"] = ROOT
    eval_lm = LM(cache=ResponseCache(work / "eval-cache"), concurrency=4)
    table: list[dict[str, Any]] = []
    comparisons: list[dict[str, Any]] = []
    for task in args.tasks.split(","):
        spec_file, train, test = (ROOT / p for p in TASKS[task])
        spec = load_spec(spec_file)
        seed_rewards = test_rewards(spec, None, test, eval_lm)
        runs: dict[str, list[Run]] = {}
        for name, code in searches.items():
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                out = work / f"{task}-{name}-{seed}.json"
                budget = args.budget if name == "new" else None
                artifact, wall = optimize(code, spec_file, train, out, seed, work / "cache", budget)
                usage = artifact["run"]["usage"]
                rewards = test_rewards(spec, artifact, test, eval_lm)
                run = Run(task, name, seed, rewards, int(usage["calls"] + usage["cached_calls"]), wall,
                          artifact["scores"].get("best_validation"))
                runs.setdefault(name, []).append(run)
                print(f"{task:15} {name:9} seed {seed}: test {run.score:.3f}  requests {run.requests:4d}  {wall:5.0f}s",
                      file=sys.stderr, flush=True)
            table.append(summarise(task, runs[name], seed_rewards))
        if "baseline" in runs and "new" in runs:
            comparisons.append(compare(task, runs["baseline"], runs["new"]))
    report = markdown(table, comparisons, "python benchmarks/seeds.py " + " ".join(sys.argv[1:]))
    print(report)
    args.out.write_text(json.dumps({"rows": table, "comparisons": comparisons, "baseline_rev": args.baseline_rev}, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(report)


def markdown(table: list[dict[str, Any]], comparisons: list[dict[str, Any]], command: str) -> str:
    lines = [
        "# Seed robustness: the same clear gain on every run",
        "",
        f"- date: {datetime.now(timezone.utc).isoformat(timespec='seconds')}; command: `{command}`",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; model: local/smollm2 (embedded)",
        "- test scores on each task's held-out test file (never seen by the optimiser); requests = LM calls the search"
        " made per run, cached answers included (the response cache is shared across seeds, so the count is the"
        " search's cost, not the cache's luck)",
        "",
        "- spread from the test file: the median spread when each test example's rewards are shuffled among the"
        " seeds (every seed's prompt equally good, each right on different examples); p: the share of those shuffles"
        " at least as wide as the spread measured (small: the seeds' prompts really differ in quality)",
        "",
        "- gain over the seed prompt: mean test reward minus the seed prompt's, paired over every (seed, test"
        " example), with its 95 % bootstrap interval",
        "",
        "| task | search | seed prompt | mean | min | max | gain over seed prompt (95% CI) | spread |"
        " spread from the test file (p) | seeds below seed prompt | requests/run |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in table:
        lines.append(
            f"| {row['task']} | {row['search']} | {row['seed_prompt']:.3f} | {row['mean']:.3f} | {row['min']:.3f} | "
            f"{row['max']:.3f} | {row['gain_over_seed_prompt'] * 100:+.1f} pts ({row['gain_ci95'][0] * 100:+.1f} to "
            f"{row['gain_ci95'][1] * 100:+.1f}) | {row['spread'] * 100:.1f} pts | {row['spread_from_test_file'] * 100:.1f} pts "
            f"({row['spread_p']:.2f}) | {row['below_seed_prompt']}/{row['seeds']} | {row['requests']:.0f} |"
        )
    if comparisons:
        lines += ["", "Paired over every (seed, test example): new minus baseline, in points, with its 95 % bootstrap interval.", ""]
        for c in comparisons:
            lines.append(f"- {c['task']}: {c['new_minus_baseline'] * 100:+.1f} points "
                         f"(95% CI {c['ci95'][0] * 100:+.1f} to {c['ci95'][1] * 100:+.1f}); "
                         f"runs changed: {c['runs_changed']} ({c['runs_up']} up)")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
