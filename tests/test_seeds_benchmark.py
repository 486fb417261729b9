"""`benchmarks/seeds.py`'s test-file spread: what the spread across seeds would be if every seed's prompt were
equally good, so a spread target can be read against the test file's own noise."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("seeds_benchmark", ROOT / "benchmarks" / "seeds.py")
seeds = sys.modules["seeds_benchmark"] = importlib.util.module_from_spec(_spec)  # dataclasses look it up
_spec.loader.exec_module(seeds)


def test_identical_prompts_have_no_spread_to_explain():
    rewards = [[1.0, 0.0, 1.0, 1.0]] * 5
    assert seeds.spread_from_the_test_file(rewards, draws=200) == (0.0, 1.0)


def test_equally_good_prompts_right_on_different_examples_spread_by_chance_alone():
    # each seed gets 30 of 40 right, each on other examples: same quality, no spread, yet shuffles spread
    per_seed = [[0.0 if (i + 7 * seed) % 4 == 0 else 1.0 for i in range(40)] for seed in range(5)]
    median, p = seeds.spread_from_the_test_file(per_seed, draws=500)
    assert median > 0.05 and p == 1.0


def test_one_seed_far_behind_the_others_is_a_real_difference():
    per_seed = [[1.0] * 20 + [0.0] * 20 for _ in range(4)] + [[0.0] * 40]
    median, p = seeds.spread_from_the_test_file(per_seed, draws=500)
    assert median < 0.5 and p < 0.01


def run(seed: int, test: list[float], search: str = "new") -> "seeds.Run":
    return seeds.Run("toy", search, seed, test, requests=200, wall_s=1.0, validation=None)


def test_the_comparison_counts_the_seeds_whose_runs_changed_and_how_many_went_up():
    baseline = [run(0, [1.0, 0.0, 1.0, 0.0], "baseline"), run(1, [1.0, 1.0, 0.0, 0.0], "baseline"),
                run(2, [0.0, 0.0, 1.0, 1.0], "baseline")]
    new = [run(0, [1.0, 1.0, 1.0, 0.0]),  # up by one example
           run(1, [1.0, 1.0, 0.0, 0.0]),  # the same answers: unchanged
           run(2, [1.0, 1.0, 0.0, 0.0])]  # other examples right, the same score: changed, not up
    result = seeds.compare("toy", baseline, new)
    assert result["runs_changed"] == 2 and result["runs_up"] == 1
    assert abs(result["new_minus_baseline"] - 1 / 12) < 1e-9  # one example more, of 12 pairs
    low, high = result["ci95"]
    assert low <= result["new_minus_baseline"] <= high
