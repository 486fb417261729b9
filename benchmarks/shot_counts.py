"""One shot per answer or two? Random balanced shot sets of each count, scored on each task's test file.

No search: each set is drawn as the search draws a fresh one (spread over the answers, the commonest last), and
the same draw seeds give both counts. Prints, per task, the mean, min and max test score of each count and the
paired 95 % interval of two-per-answer minus one-per-answer over all (set, test example) pairs. `k: auto` tries
both counts on label sets because neither wins on every task (docs/how-it-optimises.md).

    python benchmarks/shot_counts.py                      # 6 sets per count: emotion, weather, topic
    python benchmarks/shot_counts.py --sets 3 --tasks weather --cache DIR
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
from collections import Counter
from pathlib import Path

from seeds import ROOT, TASKS

from opro_cli.data import load_dataset
from opro_cli.lm import LM
from opro_cli.lm.cache import ResponseCache
from opro_cli.search.shots import MAX_AUTO_SHOTS, _draw_balanced
from opro_cli.scoring.prediction import Prediction
from opro_cli.scoring.prompt import Prompt, Shot
from opro_cli.scoring.runner import TaskRunner, resolve_format
from opro_cli.spec import load_spec
from opro_cli.scoring.stats import paired_bootstrap

LABEL_SET_TASKS = "emotion,weather,topic"


def scores_by_count(task: str, sets: int, lm: LM) -> dict[int, list[list[float]]]:
    """Per shot count (one and two per answer), the per-example test rewards of each random set."""
    spec_file, train_file, test_file = (ROOT / p for p in TASKS[task])
    spec = load_spec(spec_file)
    train, test = load_dataset(train_file, spec).examples, load_dataset(test_file, spec).examples
    runner = TaskRunner(spec, spec.model, resolve_format(spec, spec.model, [e.expected for e in train]), lm)
    pool = [Prediction(inputs=e.inputs, expected=e.expected, raw="", answer=None, reward=0.0) for e in train]
    frequency = Counter(e.expected for e in train)
    rewards: dict[int, list[list[float]]] = {}
    for count in (len(frequency), min(MAX_AUTO_SHOTS, 2 * len(frequency))):
        for draw in range(sets):
            drawn = _draw_balanced(list(pool), count, random.Random(str(draw)), frequency=frequency)
            prompt = Prompt(instructions=spec.prompt.instructions,
                            shots=tuple(Shot(inputs=p.inputs, answer=p.expected) for p in drawn))
            predictions = asyncio.run(runner.predict(prompt, test))
            rewards.setdefault(count, []).append([p.reward for p in predictions])
    return rewards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=6, help="random shot sets per count")
    parser.add_argument("--tasks", default=LABEL_SET_TASKS)
    parser.add_argument("--cache", type=Path, help="response cache (a re-run replays it)")
    args = parser.parse_args()
    lm = LM(cache=ResponseCache(args.cache or Path(tempfile.mkdtemp(prefix="opro-shots-"))), concurrency=4)
    print("| task | shots | mean | min | max | two per answer - one, paired 95 % CI |\n|---|---|---|---|---|---|")
    for task in args.tasks.split(","):
        (one, two) = scores_by_count(task, args.sets, lm).items()
        diff = paired_bootstrap([x for r in one[1] for x in r], [x for r in two[1] for x in r])
        for count, rewards in (one, two):
            scores = [statistics.fmean(r) for r in rewards]
            gain = (f"{diff.mean_diff * 100:+.1f} ({diff.low * 100:+.1f} to {diff.high * 100:+.1f})"
                    if count == two[0] else "")
            print(f"| {task} | {count} | {statistics.fmean(scores):.3f} | {min(scores):.3f} | {max(scores):.3f} | {gain} |",
                  flush=True)


if __name__ == "__main__":
    main()
