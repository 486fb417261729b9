"""How far a judge agrees with a person: for pass/fail verdicts the share of equal verdicts and Cohen's kappa
(agreement beyond chance), for graded ones Spearman's rank correlation, each with a 95 % interval. This is the
check before optimising against a judge: a prompt can learn to please a judge that does not grade as people do."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ..spec import JudgeReward
from .prediction import Verdict
from .stats import _quantile, wilson_interval

BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 0
SHOWN_DISAGREEMENTS = 5


class Statistic(NamedTuple):
    """One agreement figure and its 95 % interval (nan when the data cannot say, e.g. every grade equal)."""

    name: str
    value: float
    low: float
    high: float


def accuracy(person: Sequence[bool], judge: Sequence[bool]) -> Statistic:
    same = sum(p == j for p, j in zip(person, judge))
    low, high = wilson_interval(same, len(person))
    return Statistic("accuracy", same / len(person) if person else math.nan, low, high)


def kappa_value(person: Sequence[bool], judge: Sequence[bool]) -> float:
    """Cohen's kappa of two raters' pass/fail verdicts: (observed - chance) / (1 - chance)."""
    n = len(person)
    if not n:
        return math.nan
    observed = sum(p == j for p, j in zip(person, judge)) / n
    p_yes, j_yes = sum(person) / n, sum(judge) / n
    chance = p_yes * j_yes + (1 - p_yes) * (1 - j_yes)
    return math.nan if chance == 1 else (observed - chance) / (1 - chance)


def cohen_kappa(person: Sequence[bool], judge: Sequence[bool], seed: int = BOOTSTRAP_SEED) -> Statistic:
    """Kappa with a percentile bootstrap interval over the rows (resamples where kappa is undefined are left out)."""
    value = kappa_value(person, judge)
    rng, n = random.Random(seed), len(person)
    samples = []
    for _ in range(BOOTSTRAP_SAMPLES):
        picks = [rng.randrange(n) for _ in range(n)]
        kappa = kappa_value([person[i] for i in picks], [judge[i] for i in picks])
        if not math.isnan(kappa):
            samples.append(kappa)
    samples.sort()
    if not samples:
        return Statistic("Cohen's kappa", value, math.nan, math.nan)
    return Statistic("Cohen's kappa", value, _quantile(samples, 0.025), _quantile(samples, 0.975))


def ranks(values: Sequence[float]) -> list[float]:
    """Ranks from 1, ties given their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            out[order[k]] = (start + end) / 2 + 1
        start = end + 1
    return out


def spearman(person: Sequence[float], judge: Sequence[float]) -> Statistic:
    """Spearman's rho (Pearson's r of the ranks, ties averaged), its interval by Fisher's z with the standard
    error 1.06 / sqrt(n - 3) (Fieller, Hartley and Pearson 1957); nan with fewer than 4 rows or no spread."""
    n = len(person)
    a, b = ranks(person), ranks(judge)
    mean_a, mean_b = sum(a) / n if n else 0, sum(b) / n if n else 0
    cov = sum((x - mean_a) * (y - mean_b) for x, y in zip(a, b))
    spread = math.sqrt(sum((x - mean_a) ** 2 for x in a) * sum((y - mean_b) ** 2 for y in b))
    if n < 2 or spread == 0:
        return Statistic("Spearman's rho", math.nan, math.nan, math.nan)
    rho = cov / spread
    if n < 4 or abs(rho) == 1:
        return Statistic("Spearman's rho", rho, math.nan, math.nan)
    z, half = math.atanh(rho), 1.959964 * 1.06 / math.sqrt(n - 3)
    return Statistic("Spearman's rho", rho, math.tanh(z - half), math.tanh(z + half))


@dataclass(frozen=True)
class GradedRow:
    """One labelled answer: the person's grade and the judge's, both on [0, 1]."""

    line: int
    answer: str
    person: float
    judge: Verdict


@dataclass
class JudgeAgreement:
    path: Path
    reward: JudgeReward
    judge_model: str
    rows: list[GradedRow]
    statistics: list[Statistic]

    @property
    def unreadable(self) -> int:
        return sum(row.judge.unreadable for row in self.rows)

    def disagreements(self, count: int = SHOWN_DISAGREEMENTS) -> list[GradedRow]:
        """The rows where person and judge are furthest apart, in file order among equals."""
        apart = [row for row in self.rows if abs(row.person - row.judge.score) > 1e-9]
        return sorted(apart, key=lambda row: -abs(row.person - row.judge.score))[:count]
