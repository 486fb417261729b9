"""Is a difference between two prompts real? A seeded paired bootstrap over per-example rewards, in plain Python.

Both prompts answer the same examples, so the question is about the per-example differences `b_i - a_i`:
resampling those (rather than each prompt's scores on its own) keeps the pairing, which is what makes small
test sets usable. The interval is the percentile interval of the resampled mean differences.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import NamedTuple

RESAMPLES = 2000
CONFIDENCE = 0.95


class PairedDifference(NamedTuple):
    """Mean of `b - a` and its bootstrap confidence interval; unpacks as (mean_diff, low, high)."""

    mean_diff: float
    low: float
    high: float

    @property
    def worse(self) -> bool:
        """b is worse than a beyond the interval: even its upper end is below zero."""
        return self.high < 0

    @property
    def better(self) -> bool:
        """b is better than a beyond the interval: even its lower end is above zero."""
        return self.low > 0


class Agreement(NamedTuple):
    """How two prompts' answers split, example by example (right = full reward)."""

    both_right: int
    only_a: int
    only_b: int
    both_wrong: int


def paired_bootstrap(
    a_rewards: Sequence[float],
    b_rewards: Sequence[float],
    seed: int = 0,
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
) -> PairedDifference:
    """Mean difference `b - a` and its percentile interval from `resamples` seeded resamples of the pairs.

    The same inputs and seed always give the same interval, so a CI gate does not flicker between runs.
    """
    if len(a_rewards) != len(b_rewards):
        raise ValueError(f"paired rewards differ in length: {len(a_rewards)} and {len(b_rewards)}")
    if not a_rewards:
        raise ValueError("no rewards to compare")
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError("resamples must be >= 1 and confidence between 0 and 1")
    diffs = [float(b) - float(a) for a, b in zip(a_rewards, b_rewards)]
    n = len(diffs)
    mean_diff = sum(diffs) / n
    if all(d == diffs[0] for d in diffs):
        return PairedDifference(mean_diff, mean_diff, mean_diff)  # every resample has the same mean
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(diffs, k=n)) / n for _ in range(resamples))
    tail = (1 - confidence) / 2
    return PairedDifference(mean_diff, _quantile(means, tail), _quantile(means, 1 - tail))


def agreement(a_rewards: Sequence[float], b_rewards: Sequence[float]) -> Agreement:
    """Counts of (both right, only a right, only b right, both wrong); partial rewards count as wrong."""
    if len(a_rewards) != len(b_rewards):
        raise ValueError(f"paired rewards differ in length: {len(a_rewards)} and {len(b_rewards)}")
    counts = [0, 0, 0, 0]
    for a, b in zip(a_rewards, b_rewards):
        a_right, b_right = a >= 1.0, b >= 1.0
        counts[0 if a_right and b_right else 1 if a_right else 2 if b_right else 3] += 1
    return Agreement(*counts)


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on an already sorted sequence."""
    position = q * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)
