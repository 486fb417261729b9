"""Benchmark opro-cli on the shipped example tasks and the embedded model: gain, cost, speed, and DSPy beside it.

For each configs/<task>.yaml with datasets/<task>_train.jsonl and datasets/<task>_test.jsonl, and each seed:
a cold optimize (fresh cache), the same optimize again on the warm cache, the two ablations (shots only: k
random training examples under the seed instructions, no OPRO; instructions only: OPRO with k = 0), and the
test score of every prompt with its paired-bootstrap gain over the seed prompt. Then start-up times, and, with
the `bench` extra (dspy) installed, DSPy's optimizers on the same split, model and reward (first seed only).

    python benchmarks/run.py                 # full run: 3 seeds, all tasks, peers if dspy is installed
    python benchmarks/run.py --quick         # CI smoke test: a few examples, one seed, no peers
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import yaml  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402
from rich.table import Table  # noqa: E402

from opro_cli.artifact import Artifact, versions  # noqa: E402
from opro_cli.data import load_dataset  # noqa: E402
from opro_cli.jobs import CallOptions, OptimizeJob, evaluate_prompt  # noqa: E402
from opro_cli.lm import Usage  # noqa: E402
from opro_cli.scoring.prompt import Prompt, Shot  # noqa: E402
from opro_cli.spec import TaskSpec, load_spec  # noqa: E402
from opro_cli.scoring.stats import paired_bootstrap  # noqa: E402
from opro_cli.search.split import split_data  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# --quick: a few examples, one optimizer step with one proposal of at most 48 tokens (the embedded model's
# 300-token proposals are the slow part), so both tasks run in well under a minute on 2 idle cores.
QUICK = {"train": 8, "test": 4, "optimizer": {"budget": 24, "batch_size": 4, "shot_sets": 2, "candidates": 1}, "proposal_tokens": 48}
TARGETS = {"gain_points": 30.0, "overhead_share": 0.05, "warm_speedup": 20.0, "help_s": 0.3}
console = Console(stderr=True)
_t0 = time.perf_counter()


def log(message: str) -> None:
    console.print(f"[dim]\\[{time.perf_counter() - _t0:6.0f}s][/dim] {escape(message)}", highlight=False)


@dataclass
class Task:
    name: str
    spec_path: Path
    train: Path
    test: Path

    @property
    def spec(self) -> TaskSpec:
        return load_spec(self.spec_path)


@dataclass
class Optimized:
    artifact: Artifact
    wall_s: float
    usage: Usage

    def figures(self) -> dict[str, Any]:
        u = self.usage
        return {
            "calls": u.calls,
            "cached_calls": u.cached_calls,
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "wall_s": self.wall_s,
            "lm_s": u.lm_seconds,
            "overhead_share": 1 - u.lm_seconds / self.wall_s if self.wall_s else None,
            "validation_seed": self.artifact.scores.seed_validation,
            "validation_best": self.artifact.scores.best_validation,
            "shots": len(self.artifact.shots),
            "json_schema_answers": self.artifact.answer_format.structured,
            "instructions_changed": self.artifact.instructions != self.artifact.task_spec().prompt.instructions,
        }


# ---------------------------------------------------------------- the runs


def optimize(spec_path: Path, train: Path, output: Path, seed: int, cache_dir: Path) -> Optimized:
    """One `opro optimize`, in process, timed from loading the spec to writing the artifact."""
    start = time.perf_counter()
    job = OptimizeJob(spec_path, train, output, seed=seed, options=CallOptions(cache_dir=cache_dir))
    trainer = job.prepare()
    artifact = job.finish(trainer, job.run(trainer))
    return Optimized(artifact, time.perf_counter() - start, trainer.lm.usage)


def held_out_rewards(task: Task, prompt: Prompt, fmt_source: Artifact, seed_format: bool = False) -> list[float]:
    """Per-example rewards on the held-out test file, in the answer format the run chose for its best prompt (or,
    with `seed_format`, the one it scored the seed prompt with: schema or prompt-stated). The LM cache is off;
    a prompt already scored in the same format (often the seed prompt, kept as best) is not scored again."""
    key = (task.name, prompt.key(), repr(fmt_source.format(seed=seed_format)))
    if key not in _scored:
        options = CallOptions(cache=False)
        result = evaluate_prompt(task.spec, prompt, task.test, fmt_source=fmt_source, options=options, seed_format=seed_format)
        _scored[key] = list(result.rewards)
        result.rows.close()
    return _scored[key]


_scored: dict[tuple[Any, ...], list[float]] = {}


def random_shots(task: Task, k: int, seed: int) -> tuple[Shot, ...]:
    examples = load_dataset(task.train, task.spec).examples
    chosen = random.Random(f"{seed}:bench-shots").sample(examples, min(k, len(examples)))
    return tuple(Shot(inputs=e.inputs, answer=e.expected) for e in chosen)


def with_optimizer(spec_path: Path, out: Path, proposal_tokens: int | None = None, **overrides: Any) -> Path:
    """A copy of the spec YAML with optimizer settings overridden (e.g. k=0 for the instructions-only ablation)."""
    raw = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    raw["optimizer"] = {**(raw.get("optimizer") or {}), **overrides}
    if proposal_tokens is not None:
        proposer = raw.get("optimizer_model") or raw["model"]
        proposer = {"name": proposer} if isinstance(proposer, str) else proposer
        raw["optimizer_model"] = {**proposer, "max_tokens": proposal_tokens}
    out.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return out


def scored(rewards: list[float], seed_rewards: list[float], seed: int) -> dict[str, Any]:
    diff = paired_bootstrap(seed_rewards, rewards, seed=seed)
    return {
        "test_score": sum(rewards) / len(rewards),
        "gain_points": 100 * diff.mean_diff,
        "gain_ci95": [100 * diff.low, 100 * diff.high],
        "rewards": rewards,
    }


def run_seed(task: Task, seed: int, work: Path, seed_rewards: list[float] | None) -> tuple[dict[str, Any], list[float]]:
    cache = work / f"cache-{seed}"
    cold = optimize(task.spec_path, task.train, work / f"best-{seed}.json", seed, cache)
    log(f"{task.name} seed {seed}: optimize {cold.wall_s:.1f} s, {cold.usage.calls} calls")
    warm = optimize(task.spec_path, task.train, work / f"warm-{seed}.json", seed, cache)
    log(f"{task.name} seed {seed}: warm re-run {warm.wall_s:.2f} s, {warm.usage.calls} calls")
    k0_spec = with_optimizer(task.spec_path, work / f"{task.name}-k0.yaml", k=0)
    k0 = optimize(k0_spec, task.train, work / f"k0-{seed}.json", seed, work / f"cache-k0-{seed}")
    log(f"{task.name} seed {seed}: instructions-only optimize {k0.wall_s:.1f} s, {k0.usage.calls} calls")

    spec = task.spec
    if seed_rewards is None:  # the seed prompt is the same for every seed: scored once per task
        seed_rewards = held_out_rewards(task, Prompt(instructions=spec.prompt.instructions), cold.artifact, seed_format=True)
    # Shots only is asked for in the optimised prompt's answer format, so against `optimized` only the choice of
    # shots and instructions differs.
    shots_only = Prompt(instructions=spec.prompt.instructions, shots=random_shots(task, spec.optimizer.k, seed))
    figures = {
        "seed": seed,
        "optimized": scored(held_out_rewards(task, cold.artifact.prompt, cold.artifact), seed_rewards, seed),
        "shots_only": scored(held_out_rewards(task, shots_only, cold.artifact), seed_rewards, seed),
        "instructions_only": scored(held_out_rewards(task, k0.artifact.prompt, k0.artifact), seed_rewards, seed),
        "optimize": cold.figures(),
        "instructions_only_optimize": k0.figures(),
        "warm": {
            "wall_s": warm.wall_s,
            "ratio_to_cold": warm.wall_s / cold.wall_s,
            "speedup": cold.wall_s / warm.wall_s,
            "provider_calls": warm.usage.calls,
            "cached_calls": warm.usage.cached_calls,
            "same_artifact": warm.artifact.reproducible_part() == cold.artifact.reproducible_part(),
        },
    }
    log(
        f"{task.name} seed {seed}: test optimized {figures['optimized']['test_score']:.1%}, "
        f"shots only {figures['shots_only']['test_score']:.1%}, "
        f"instructions only {figures['instructions_only']['test_score']:.1%}"
    )
    return figures, seed_rewards


def run_task(task: Task, seeds: list[int], peers: bool, work: Path) -> dict[str, Any]:
    runs, seed_rewards = [], None
    for seed in seeds:
        figures, seed_rewards = run_seed(task, seed, work, seed_rewards)
        runs.append(figures)
    assert seed_rewards is not None
    result: dict[str, Any] = {
        "train": str(task.train.relative_to(ROOT)) if task.train.is_relative_to(ROOT) else task.train.name,
        "test_examples": len(seed_rewards),
        "seed_prompt": {"test_score": sum(seed_rewards) / len(seed_rewards), "rewards": seed_rewards},
        "runs": runs,
        "summary": summarize(runs, seed_rewards),
    }
    if peers:
        result["peers"] = run_dspy(task, seeds[0], round(result["summary"]["calls"]["mean"]), seed_rewards, work)
    return result


def run_dspy(task: Task, seed: int, budget: int, seed_rewards: list[float], work: Path) -> list[dict[str, Any]]:
    from peers import run_peers

    spec = task.spec
    data = load_dataset(task.train, spec)
    split = split_data(spec.model_copy(update={"optimizer": spec.optimizer.model_copy(update={"seed": seed})}), data)
    test = load_dataset(task.test, spec).examples
    log_file = work / f"dspy-{task.name}.log"
    results = run_peers(spec, split.train, split.validation, test, seed, budget, log_file)
    out = []
    for peer in results:
        figures = peer.as_dict()
        if peer.test_score is not None:
            figures.update({k: v for k, v in scored(peer.rewards, seed_rewards, seed).items() if k.startswith("gain")})
        out.append(figures)
        score = f"test {peer.test_score:.1%}" if peer.test_score is not None else peer.status
        log(f"{task.name} DSPy {peer.name}: {score}, {peer.calls} calls, {peer.wall_s:.0f} s")
    return out


# ---------------------------------------------------------------- figures


def spread(values: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values),
        "min": min(values),
        "max": max(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
    }


def summarize(runs: list[dict[str, Any]], seed_rewards: list[float]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for arm in ("optimized", "shots_only", "instructions_only"):
        summary[f"{arm}_score"] = spread([r[arm]["test_score"] for r in runs])
        summary[f"{arm}_gain_points"] = spread([r[arm]["gain_points"] for r in runs])
        # One interval for the mean over seeds: per-example rewards averaged over the seeds, paired with the seed prompt's.
        pooled = [statistics.fmean(values) for values in zip(*(r[arm]["rewards"] for r in runs))]
        diff = paired_bootstrap(seed_rewards, pooled, seed=0)
        summary[f"{arm}_gain_ci95_pooled"] = [100 * diff.low, 100 * diff.high]
    for key in ("calls", "prompt_tokens", "completion_tokens", "wall_s", "overhead_share"):
        summary[key] = spread([r["optimize"][key] for r in runs])
    for key in ("speedup", "ratio_to_cold", "provider_calls"):
        summary[f"warm_{key}"] = spread([r["warm"][key] for r in runs])
    return summary


def startup(runs: int) -> dict[str, Any]:
    """`opro --help` (the installed script) and imports, each timed in fresh subprocesses: median of `runs`
    (of fewer for litellm's import, which takes seconds)."""
    opro = Path(sys.executable).with_name("opro")

    def wall(command: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        return time.perf_counter() - start

    def import_time(module: str) -> float:
        code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        return float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)

    help_runs = [wall([str(opro), "--help"]) for _ in range(runs)]
    return {
        "runs": runs,
        "opro_help_s": statistics.median(help_runs),
        "opro_help_runs": help_runs,
        "import_opro_cli_s": statistics.median(import_time("opro_cli") for _ in range(runs)),
        "import_litellm_s": statistics.median(import_time("litellm") for _ in range(max(1, runs // 2))),
    }


def judge(tasks: dict[str, Any], start: dict[str, Any], peers_note: str | None) -> list[dict[str, Any]]:
    """Each target of issue 5, per task where it applies: value, met or not, and by how much."""
    verdicts = []

    def add(target: str, scope: str, value: str, met: bool | None, note: str) -> None:
        verdicts.append({"target": target, "scope": scope, "value": value, "met": met, "note": note})

    for name, task in tasks.items():
        s = task["summary"]
        gain, headroom = s["optimized_gain_points"]["mean"], 100 * (1 - task["seed_prompt"]["test_score"])
        note = f"{gain - TARGETS['gain_points']:+.1f} points against the target"
        if headroom < TARGETS["gain_points"]:
            note += f"; out of reach: the seed prompt scores {100 - headroom:.1f}%, leaving at most +{headroom:.1f}"
        add("gain over seed prompt >= +30 points", name, f"{gain:+.1f} points", gain >= TARGETS["gain_points"], note)
        peers = [p for p in task.get("peers", []) if p["test_score"] is not None]
        if not task.get("peers"):
            add(">= best DSPy optimizer at <= its calls", name, "not measured", None, peers_note or "peers not run")
        elif not peers:
            add(">= best DSPy optimizer at <= its calls", name, "no DSPy optimizer finished", None,
                "; ".join(f"{p['name']} {p['status']}" for p in task["peers"]))
        else:
            best = max(peers, key=lambda p: p["test_score"])
            ours, calls = s["optimized_score"]["mean"], s["calls"]["mean"]
            met = ours >= best["test_score"] and calls <= best["calls"]
            add(">= best DSPy optimizer at <= its calls", name,
                f"{ours:.1%} at {calls:.0f} calls vs {best['name']} {best['test_score']:.1%} at {best['calls']} calls", met,
                f"score {100 * (ours - best['test_score']):+.1f} points, calls {calls - best['calls']:+.0f}")
        overhead = s["overhead_share"]["max"]
        add("overhead outside LM calls <= 5% of wall", name, f"{overhead:.1%} (worst seed)",
            overhead <= TARGETS["overhead_share"], f"{100 * (overhead - TARGETS['overhead_share']):+.1f} points against the target")
        speedup, calls = s["warm_speedup"]["min"], s["warm_provider_calls"]["max"]
        add("warm re-run >= 20x faster, 0 calls", name, f"{speedup:.0f}x (worst seed), {calls:.0f} calls",
            speedup >= TARGETS["warm_speedup"] and calls == 0, f"{speedup / TARGETS['warm_speedup']:.1f}x the target")
    help_s = start["opro_help_s"]
    add("`opro --help` <= 0.3 s", "all", f"{help_s:.2f} s (median)", help_s <= TARGETS["help_s"],
        f"{help_s - TARGETS['help_s']:+.2f} s against the target")
    return verdicts


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "load_average_at_start": load}


# ---------------------------------------------------------------- output


def pct(s: dict[str, float]) -> str:
    return f"{s['mean']:.1%} ({s['min']:.0%}-{s['max']:.0%})"


def pts(s: dict[str, float], ci: list[float] | None = None) -> str:
    text = f"{s['mean']:+.1f} ({s['min']:+.0f} to {s['max']:+.0f})"
    return f"{text} [{ci[0]:+.0f}, {ci[1]:+.0f}]" if ci else text


def num(s: dict[str, float], fmt: str = ".0f") -> str:
    return f"{s['mean']:{fmt}} ({s['min']:{fmt}}-{s['max']:{fmt}})"


def score_rows(task: dict[str, Any], short: bool = False) -> list[list[str]]:
    """Rows: prompt, test score mean (range), gain in points mean (range) [pooled 95% CI], LM calls, wall.
    `short` keeps only the exception's name of a crash (for the terminal; the files have the whole line)."""
    s = task["summary"]
    rows = [["seed prompt", f"{task['seed_prompt']['test_score']:.1%}", "", "", ""]]
    for arm, label in (("optimized", "opro optimize"), ("shots_only", "ablation: shots only"),
                       ("instructions_only", "ablation: instructions only (k=0)")):
        calls, wall = "", ""
        if arm == "optimized":
            calls, wall = num(s["calls"]), num(s["wall_s"]) + " s"
        elif arm == "instructions_only":
            calls = num(spread([r["instructions_only_optimize"]["calls"] for r in task["runs"]]))
            wall = num(spread([r["instructions_only_optimize"]["wall_s"] for r in task["runs"]])) + " s"
        rows.append([label, pct(s[f"{arm}_score"]), pts(s[f"{arm}_gain_points"], s[f"{arm}_gain_ci95_pooled"]), calls, wall])
    for peer in task.get("peers", []):
        if peer["test_score"] is None:
            status = ":".join(peer["status"].split(":")[:2]) if short else peer["status"]
            rows.append([f"DSPy {peer['name']}", status, "", str(peer["calls"]), f"{peer['wall_s']:.0f} s"])
        else:
            score = f"{peer['test_score']:.1%} ({peer['test_failures']} unparsed)"
            gain = f"{peer['gain_points']:+.1f} [{peer['gain_ci95'][0]:+.0f}, {peer['gain_ci95'][1]:+.0f}]"
            rows.append([f"DSPy {peer['name']}", score, gain, str(peer["calls"]), f"{peer['wall_s']:.0f} s"])
    return rows


SCORE_HEAD = ["prompt", "test score, mean (range)", "gain, points, mean (range) [95% CI]", "LM calls", "wall time"]
COST_HEAD = ["metric", "mean (min-max)"]


def cost_rows(task: dict[str, Any]) -> list[list[str]]:
    s = task["summary"]
    return [
        ["LM calls", num(s["calls"])],
        ["prompt / completion tokens", f"{num(s['prompt_tokens'])} / {num(s['completion_tokens'])}"],
        ["optimize wall time", num(s["wall_s"], ".1f") + " s"],
        ["share of wall time outside LM calls", f"{s['overhead_share']['mean']:.1%} ({s['overhead_share']['min']:.1%}-{s['overhead_share']['max']:.1%})"],
        ["warm-cache re-run: wall / cold", f"{s['warm_ratio_to_cold']['mean']:.4f} ({s['warm_speedup']['mean']:.0f}x faster; worst {s['warm_speedup']['min']:.0f}x)"],
        ["warm-cache re-run: provider calls", num(s["warm_provider_calls"])],
        ["warm artifact identical to cold", ", ".join("yes" if r["warm"]["same_artifact"] else "no" for r in task["runs"])],
    ]


def print_tables(results: dict[str, Any]) -> None:
    out = Console()
    for name, task in results["tasks"].items():
        for title, head, rows in ((f"{name}: test scores ({task['test_examples']} held-out examples)", SCORE_HEAD, score_rows(task, short=True)),
                                  (f"{name}: cost of one optimize", COST_HEAD, cost_rows(task))):
            table = Table(title=title)
            for column in head:
                table.add_column(column)
            for row in rows:
                table.add_row(*map(escape, row))
            out.print(table)
    table = Table(title="targets (issue 5)")
    for column in ("target", "scope", "value", "verdict", "note"):
        table.add_column(column)
    for v in results["targets"]:
        table.add_row(*map(escape, (v["target"], v["scope"], v["value"], verdict(v["met"]), v["note"])))
    out.print(table)
    start = results["startup"]
    out.print(f"opro --help {start['opro_help_s']:.3f} s (median of {start['runs']}); import opro_cli "
              f"{start['import_opro_cli_s'] * 1000:.1f} ms; import litellm {start['import_litellm_s']:.2f} s")


def verdict(met: bool | None) -> str:
    return "n/a" if met is None else "met" if met else "MISSED"


def prompt_shape(figures: dict[str, Any]) -> str:
    """What the optimizer kept, e.g. 'seed instructions, 4 shots, answer as text'."""
    instructions = "new instructions" if figures["instructions_changed"] else "seed instructions"
    answer = "JSON schema" if figures["json_schema_answers"] else "answer as text"
    return f"{instructions}, {figures['shots']} shots, {answer}"


def _load(load: Any) -> str:
    return "/".join(f"{x:.1f}" for x in load) if load else "n/a"


def md_table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    m, v, st = results["machine"], results["versions"], results["startup"]
    parts = [
        "# opro-cli benchmark results",
        "",
        f"- date: {results['date']}; command: `{results['command']}`; total time {results['total_s'] / 60:.1f} min",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['platform']}; load average (1/5/15 min) at start "
        f"{_load(m['load_average_at_start'])}, at end {_load(m.get('load_average_at_end'))} (other work shared the machine when above 0)",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- seeds: {results['settings']['seeds']}; model: local/smollm2 (embedded); tasks: {', '.join(results['tasks'])}",
    ]
    parts += [f"- note: {note}" for note in results["settings"]["notes"]]
    parts += [
        "",
        "Scores are on the held-out test files. Gains are in points over the seed prompt: mean over seeds, (range "
        "over seeds), [95% paired-bootstrap interval of the mean over seeds]; per-seed intervals are in results.json.",
    ]
    for name, task in results["tasks"].items():
        parts += ["", f"## {name} ({task['test_examples']} test examples)", "", md_table(SCORE_HEAD, score_rows(task))]
        parts += ["", md_table(COST_HEAD, cost_rows(task))]
        parts += ["", "Per seed:", "", md_table(
            ["seed", "optimized", "its prompt", "gain [95% CI]", "shots only", "instructions only", "calls", "wall",
             "outside LM", "warm"],
            [[str(r["seed"]), f"{r['optimized']['test_score']:.1%}", prompt_shape(r["optimize"]),
              f"{r['optimized']['gain_points']:+.1f} [{r['optimized']['gain_ci95'][0]:+.0f}, {r['optimized']['gain_ci95'][1]:+.0f}]",
              f"{r['shots_only']['test_score']:.1%}", f"{r['instructions_only']['test_score']:.1%}",
              str(r["optimize"]["calls"]), f"{r['optimize']['wall_s']:.1f} s", f"{r['optimize']['overhead_share']:.1%}",
              f"{r['warm']['wall_s']:.2f} s, {r['warm']['provider_calls']} calls"] for r in task["runs"]])]
    parts += ["", "## Start-up", "", md_table(["measure", "median"], [
        ["`opro --help` (installed script, subprocess)", f"{st['opro_help_s']:.3f} s"],
        ["`import opro_cli`", f"{st['import_opro_cli_s'] * 1000:.1f} ms"],
        ["`import litellm` (paid once by every command that calls a model)", f"{st['import_litellm_s']:.2f} s"],
    ])]
    parts += ["", "## Targets (issue 5)", "", md_table(
        ["target", "scope", "value", "verdict", "note"],
        [[t["target"], t["scope"], t["value"], verdict(t["met"]), t["note"]] for t in results["targets"]])]
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------- main


def find_tasks(wanted: list[str] | None) -> list[Task]:
    tasks = []
    for spec_path in sorted((ROOT / "configs").glob("*.yaml")):
        train, test = ROOT / "datasets" / f"{spec_path.stem}_train.jsonl", ROOT / "datasets" / f"{spec_path.stem}_test.jsonl"
        if train.is_file() and test.is_file() and (not wanted or spec_path.stem in wanted):
            if not wanted and _judged(spec_path):  # a judge call per answer on top: only when asked by name
                continue
            tasks.append(Task(spec_path.stem, spec_path, train, test))
    missing = set(wanted or []) - {t.name for t in tasks}
    if missing:
        sys.exit(f"unknown task(s) {', '.join(sorted(missing))}: need configs/<task>.yaml and datasets/<task>_{{train,test}}.jsonl")
    return tasks


def _judged(spec_path: Path) -> bool:
    reward = (yaml.safe_load(spec_path.read_text(encoding="utf-8")) or {}).get("reward")
    return isinstance(reward, dict) and reward.get("type") == "judge"


def adapt(task: Task, work: Path, quick: bool, overrides: dict[str, Any]) -> Task:
    """The task as benchmarked: --quick keeps the first few examples of each file and shrinks the optimizer;
    other overrides (e.g. --validation-size) go into a copy of the spec."""
    if quick:
        overrides = {**QUICK["optimizer"], **overrides, "proposal_tokens": QUICK["proposal_tokens"]}
    if not overrides:
        return task
    spec = with_optimizer(task.spec_path, work / task.spec_path.name, **overrides)
    if not quick:
        return Task(task.name, spec, task.train, task.test)

    def head(path: Path, n: int) -> Path:
        out = work / path.name
        out.write_text("".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[:n]), encoding="utf-8")
        return out

    return Task(task.name, spec, head(task.train, QUICK["train"]), head(task.test, QUICK["test"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="optimizer seeds per task (0..N-1) [3]")
    parser.add_argument("--tasks", help="comma-separated task names [all configs with train and test data]")
    parser.add_argument("--quick", action="store_true", help="CI smoke run: few examples, one seed, no peers")
    parser.add_argument("--no-peers", action="store_true", help="skip the DSPy optimizers")
    parser.add_argument("--validation-size", type=float, help="override optimizer.validation_size (to fit a time budget)")
    parser.add_argument("--out", type=Path, help="directory for results.md and results.json [benchmarks/; --quick: a temp dir]")
    args = parser.parse_args()

    from peers import dspy_version

    seeds = list(range(1 if args.quick else args.seeds))
    notes: list[str] = [
        "answer formats: the seed prompt is scored in the format the optimizer scored it with (on the embedded model a "
        "JSON schema constraining the label); the optimised prompt in the format the optimizer chose for it (schema or "
        "stated in the prompt, whichever validated better); shots only in the optimised prompt's format; instructions "
        "only in its own run's choice"
    ]
    peers_note = None
    peers = not (args.quick or args.no_peers)
    if peers and dspy_version() is None:
        peers, peers_note = False, "DSPy not installed: peers skipped (pip install -e '.[bench]')"
    elif not peers:
        peers_note = "peers skipped (--quick)" if args.quick else "peers skipped (--no-peers)"
    if peers_note:
        notes.append(peers_note)
    if peers:
        notes.append(f"DSPy peers ran once per task, with the first seed ({seeds[0]}), on the same train/validation split as "
                     "opro, sized to at least opro's mean call count; DSPy cache off; max_tokens = spec's + "
                     "32 for DSPy's field markers; calls counted from DSPy's history (test-set calls not included); "
                     "DSPy asks this provider for JSON without a schema (litellm reports no schema support for a "
                     "custom provider), so its labels are not grammar-constrained as opro's schema answers are")
    if args.quick:
        notes.append(f"--quick: first {QUICK['train']} train / {QUICK['test']} test examples, optimizer {QUICK['optimizer']}, "
                     f"proposals of at most {QUICK['proposal_tokens']} tokens; figures are a smoke test, not results")
    overrides = {} if args.validation_size is None else {"validation_size": args.validation_size}
    if overrides:
        notes.append(f"reduced to fit the time budget: optimizer.validation_size = {args.validation_size:g} (the spec says more)")
    out_dir = args.out or (Path(tempfile.gettempdir()) / "opro-bench-quick" if args.quick else ROOT / "benchmarks")
    out_dir.mkdir(parents=True, exist_ok=True)

    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python benchmarks/run.py", *sys.argv[1:]]),
        "machine": machine(),
        "versions": {**versions(), **({"dspy": dspy_version()} if dspy_version() else {})},
        "settings": {"seeds": seeds, "quick": args.quick, "peers": peers, "notes": notes},
        "tasks": {},
    }
    tasks = find_tasks(args.tasks.split(",") if args.tasks else None)
    runs = 3 if args.quick else 7
    log(f"start-up timings ({runs} runs each)")
    results["startup"] = startup(runs)
    import litellm  # noqa: F401 - imported once here, so no optimize timing below includes it (see start-up)

    with tempfile.TemporaryDirectory(prefix="opro-bench-") as tmp:
        for task in tasks:
            work = Path(tmp) / task.name
            work.mkdir()
            task = adapt(task, work, args.quick, overrides)
            results["tasks"][task.name] = run_task(task, seeds, peers, work)
    results["targets"] = judge(results["tasks"], results["startup"], peers_note)
    results["total_s"] = time.perf_counter() - _t0
    results["machine"]["load_average_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out_dir / "results.md").write_text(markdown(results) + kept_sections(out_dir / "results.md"), encoding="utf-8")
    print_tables(results)
    log(f"done in {results['total_s'] / 60:.1f} min; wrote {out_dir / 'results.md'} and {out_dir / 'results.json'}")


OTHERS = "<!-- sections below are written by other benchmarks; run.py keeps them -->"


def kept_sections(path: Path) -> str:
    """What other benchmarks (benchmarks/scale.py) wrote below the marker in results.md: kept as it is."""
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    return "\n" + OTHERS + current.split(OTHERS, 1)[1] if OTHERS in current else ""


if __name__ == "__main__":
    main()
