"""Was a run's result search luck or a wrong pick? Every prompt a run looked at, scored on the task's test file.

Reads the artifacts `seeds.py --work DIR` leaves (`DIR/<task>-<search>-<seed>.json`), takes every candidate of
each run's history, and prints per run the test score of the prompt it wrote beside the best test score among
the prompts it screened, and the gap between the two (issue 37; the seed prompt's test score when the run wrote
the seed prompt), with the mean gap over the seeds. When the written prompt is the best it saw, the spread across
seeds comes from what the search found (exploration); when a better one was seen and dropped, from how it chose
(selection noise).

    python benchmarks/candidates.py --task room --work DIR                # the new search's runs, seeds 0-4
    python benchmarks/candidates.py --task room --work DIR --search baseline --verbose
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from seeds import ROOT, TASKS, prompt_from_json, prompt_rewards, test_rewards

from opro_cli.data import load_dataset
from opro_cli.lm import LM
from opro_cli.lm.cache import ResponseCache
from opro_cli.search.state import entry_id
from opro_cli.scoring.prompt import Prompt
from opro_cli.spec import load_spec


def prompt_key(instructions: str, shots: list[dict[str, Any]], structured: bool) -> str:
    """A prompt's identity as the search keeps it (`optimizer.entry_id`), from an artifact's JSON."""
    return entry_id(prompt_from_json({"instructions": instructions, "shots": shots}), structured)


def candidates(artifact: dict[str, Any]) -> dict[str, tuple[Prompt, bool, float, int]]:
    """Every distinct prompt of the history: the prompt, its answer format, and its last validation score and
    example count."""
    seen: dict[str, tuple[Prompt, bool, float, int]] = {}
    for record in artifact["history"]:
        for c in record["candidates"]:
            prompt = prompt_from_json(c["prompt"])
            seen[entry_id(prompt, c["structured"])] = (prompt, c["structured"], c["score"], c["examples"])
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", required=True, choices=sorted(TASKS))
    parser.add_argument("--work", type=Path, required=True, help="a `seeds.py --work` directory")
    parser.add_argument("--search", default="new", help="baseline or new")
    parser.add_argument("--seeds", type=int, default=5, help="how many seeds' runs to read")
    parser.add_argument("--first-seed", type=int, default=0, help="the first of them, as given to seeds.py")
    parser.add_argument("--verbose", action="store_true", help="every candidate, not only the summary")
    args = parser.parse_args()

    spec_file, _, test_file = (ROOT / p for p in TASKS[args.task])
    spec = load_spec(spec_file)
    test = load_dataset(test_file, spec)
    lm = LM(cache=ResponseCache(args.work / "eval-cache"), concurrency=4)
    print("| seed | prompts seen | their test mean (min-max) | written prompt: validation, test | best seen on test "
          "| gap (points) |")
    print("|---|---|---|---|---|---|")
    gaps: list[float] = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        artifact = json.loads((args.work / f"{args.task}-{args.search}-{seed}.json").read_text())
        written = prompt_key(artifact["instructions"], artifact["shots"], artifact["answer_format"]["structured"])
        scores: dict[str, float] = {}
        for key, (prompt, structured, validation, examples) in candidates(artifact).items():
            rewards = prompt_rewards(spec, prompt, test, lm, artifact["answer_format"], structured)
            scores[key] = statistics.fmean(rewards)
            if args.verbose:
                mark = "written" if key == written else ""
                print(f"  seed {seed}: {len(prompt.shots)} shots, validation {validation:.3f} on {examples}, "
                      f"test {scores[key]:.3f} {mark}")
        found = list(scores.values())
        written_test = scores.get(written)
        shown = f"{written_test:.3f}" if written_test is not None else "(the seed prompt)"
        if written_test is None:  # the seed prompt, in the answer format it was scored in
            written_test = statistics.fmean(test_rewards(spec, artifact, test_file, lm, seed_format=True))
            shown += f" {written_test:.3f}"
        gaps.append(max(0.0, max(found) - written_test))
        print(f"| {seed} | {len(found)} | {statistics.fmean(found):.3f} ({min(found):.3f}-{max(found):.3f}) | "
              f"{artifact['scores']['best_validation']:.3f}, {shown} | {max(found):.3f} | {gaps[-1] * 100:.1f} |",
              flush=True)
    print(f"\n{args.task} ({args.search}): mean gap between the written prompt and the best prompt seen, on test: "
          f"{statistics.fmean(gaps) * 100:.1f} points (max {max(gaps) * 100:.1f}) over {len(gaps)} seeds")


if __name__ == "__main__":
    main()
