"""Is a difference between two prompts real? A seeded paired bootstrap over per-example rewards, in plain Python.

Both prompts answer the same examples, so the question is about the per-example differences `b_i - a_i`:
resampling those (rather than each prompt's scores on its own) keeps the pairing, which is what makes small
test sets usable. The interval is the percentile interval of the resampled mean differences.
"""

from __future__ import annotations

import math
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


def wilson_interval(successes: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % interval of a success rate from n 0/1 outcomes; sound at 0 % and 100 % and for small n."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def is_graded(rewards: Sequence[float]) -> bool:
    """Whether any reward is partial (strictly between 0 and 1): then counts of right and wrong say less than
    the mean, and a binomial interval does not apply."""
    return any(0.0 < reward < 1.0 for reward in rewards)


def mean_interval(rewards: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The interval of a mean reward: Wilson's for 0/1 rewards (sound at 0 % and 100 % and for small n), else
    Student's t on the rewards' spread, clipped to [0, 1]."""
    n = len(rewards)
    if n == 0:
        return (0.0, 1.0)
    if not is_graded(rewards):
        return wilson_interval(sum(rewards), n)
    mean = sum(rewards) / n
    if n == 1:
        return (0.0, 1.0)
    spread = math.sqrt(sum((r - mean) ** 2 for r in rewards) / (n - 1))
    half = _t_quantile(1 - (1 - confidence) / 2, n - 1) * spread / math.sqrt(n)
    return (max(0.0, mean - half), min(1.0, mean + half))


def _t_quantile(p: float, freedom: int) -> float:
    """Student's t quantile, from the normal one by the Cornish-Fisher expansion (within 1 % from 3 degrees
    of freedom up, which is all an interval of a score needs)."""
    z = _normal_quantile(p)
    v = float(freedom)
    return (z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3))


def _normal_quantile(p: float) -> float:
    """The standard normal quantile (Acklam's rational approximation, relative error below 1.2e-9)."""
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
         -3.066479806614716e01, 2.506628277459239e00)
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
         -1.328068155288572e01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
         4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    if p < 0.02425:
        q = math.sqrt(-2 * math.log(p))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    if p > 1 - 0.02425:
        return -_normal_quantile(1 - p)
    q = p - 0.5
    r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
