"""Racing and paired acceptance: which candidates earn more evaluation calls, and when one replaces the best.

Pure functions over per-example rewards (`{example index: reward}`), so the schedule and the acceptance rule
are tested without any LM. Every comparison is paired: two prompts are compared only on examples both were
scored on (and neither has as a shot), so the noise of which examples were drawn cancels out.

- `rung_sizes`: a candidate is screened on a minibatch, and the survivors are scored on ETA times as many
  examples at each rung, up to the whole pool (successive halving).
- `promotion`: asynchronous successive halving (ASHA): prompts of every step follow one order of the pool
  (each step's screening examples first), and at each rung the best 1/ETA of those that completed it are
  scored further; `standing` ranks them.
- `settled`: examples every screened candidate answers alike (all right or all wrong). They tell no prompts
  apart, so rankings leave them out and new candidates are screened on the examples that still do.
- `sign_test`: the exact one-sided sign test on the examples where the two prompts disagree (McNemar's
  exact test for 0/1 rewards); a challenger replaces the incumbent only when it is significant.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..scoring.stats import wilson_interval  # noqa: F401  (the interval of a score; kept importable here)

Rewards = Mapping[int, float]
ALPHA = 0.05  # one-sided: a challenger must beat the seed prompt at this level on the whole pool ...
EARLY_ALPHA = 0.01  # ... or at this stricter one on a partial rung (a clear winner needs no more calls).
# Between two prompts that both beat the seed prompt, a wrong choice costs little and a missed gain a lot, so a
# challenger may replace such an incumbent at a looser level; the final guard against the seed prompt
# (`final_choice`) still holds the result to ALPHA.
REFINE_ALPHA = 0.2
EARLY_REFINE_ALPHA = 0.05
# Successive halving keeps the best 1/ETA at each rung, which scores ETA times more examples than the last:
# with a budget of a few full evaluations, 3 screens a quarter more candidates than 2 for the same calls.
ETA = 3
# An example is settled once this many candidates were scored on it and all got the same reward.
SETTLED_AFTER = 4


def acceptance_level(against_seed: bool, whole_pool: bool) -> float:
    """The significance a challenger needs to replace the incumbent."""
    if against_seed:
        return ALPHA if whole_pool else EARLY_ALPHA
    return REFINE_ALPHA if whole_pool else EARLY_REFINE_ALPHA


@dataclass(frozen=True)
class Paired:
    """Two prompts on the same examples: how often each one was the better."""

    examples: int
    wins: int  # the challenger scored higher
    losses: int  # the incumbent scored higher
    diff: float  # mean reward difference, challenger minus incumbent

    @property
    def p_value(self) -> float:
        return sign_test(self.wins, self.losses)

    @property
    def mid_p_value(self) -> float:
        return sign_test(self.wins, self.losses, mid=True)

    def significant(self, alpha: float = ALPHA, mid: bool = False) -> bool:
        return self.wins > self.losses and (self.mid_p_value if mid else self.p_value) < alpha


def accepts(result: Paired, against_seed: bool, whole_pool: bool) -> bool:
    """Whether a challenger replaces the incumbent: the sign test at `acceptance_level`, exact except against the
    seed prompt on the whole pool, where it is the mid-p value. The exact test is too strict with few discordant
    examples: on a pool of 36 where the seed prompt is never right, a prompt right on 4 of them (0 losses) has
    p = 1/16 and could never win; its mid-p value is 1/32. Measured on the seeds benchmark: weak tasks gain
    (product 0 -> 7.7 points), and none of the other tasks' 55 runs changes (benchmarks/weak_signal.md)."""
    return result.significant(acceptance_level(against_seed, whole_pool), mid=against_seed and whole_pool)


def beats_seed(result: Paired) -> bool:
    """The guard's test: `result` (a prompt against the seed prompt) wins as it must on the whole pool."""
    return accepts(result, against_seed=True, whole_pool=True)


def paired(challenger: Rewards, incumbent: Rewards, examples: Iterable[int] | None = None) -> Paired:
    """Compare on `examples` (default: every example both were scored on); missing ones are skipped."""
    shared = [i for i in (examples if examples is not None else challenger) if i in challenger and i in incumbent]
    deltas = [challenger[i] - incumbent[i] for i in shared]
    return Paired(
        examples=len(shared),
        wins=sum(1 for d in deltas if d > 0),
        losses=sum(1 for d in deltas if d < 0),
        diff=sum(deltas) / len(deltas) if deltas else 0.0,
    )


def sign_test(wins: int, losses: int, mid: bool = False) -> float:
    """P(at least `wins` of `wins + losses` fair coin flips): the chance a prompt no better than the incumbent
    wins this often. Ties carry no information and are left out, as in McNemar's exact test. `mid`: Lancaster's
    mid-p value, counting exactly `wins` by half, whose size stays close to the nominal level where the exact
    test's falls far below it (few discordant examples)."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, j) for j in range(wins, n + 1))
    return (tail - math.comb(n, wins) / 2 if mid else tail) / 2**n


def rung_sizes(first: int, total: int, eta: int = ETA) -> list[int]:
    """Cumulative examples per rung: `first`, then `eta` times more at each, the last rung being the whole pool."""
    sizes, size = [], max(1, first)
    while size < total:
        sizes.append(size)
        size *= eta
    return [*sizes, total]


def prefix(rewards: Rewards, examples: Sequence[int]) -> list[float]:
    """The rewards on `examples` (a prompt's eligible examples in the run's order) up to the first unscored one."""
    scored = []
    for i in examples:
        if i not in rewards:
            break
        scored.append(rewards[i])
    return scored


def rung_of(scored: int, eligible: int, rungs: Sequence[int]) -> int:
    """The highest rung a prompt has completed (-1: none) with `scored` examples of its prefix, out of the
    `eligible` it may have (the pool but its own shots: the last rung is complete at `eligible`)."""
    done = -1
    for i, size in enumerate(rungs):
        if scored >= min(size, eligible):
            done = i
    return done


def settled(candidates: Iterable[Rewards], at_least: int = SETTLED_AFTER) -> frozenset[int]:
    """Examples at least `at_least` candidates were scored on, all with the same reward. On a small pool most
    examples are ones every prompt gets right (or wrong); a screening minibatch made of them ranks candidates at
    random, however many calls it takes."""
    seen: dict[int, set[float]] = {}
    counts: dict[int, int] = {}
    for rewards in candidates:
        for i, reward in rewards.items():
            seen.setdefault(i, set()).add(reward)
            counts[i] = counts.get(i, 0) + 1
    return frozenset(i for i, values in seen.items() if len(values) == 1 and counts[i] >= at_least)


def screening_examples(pool: int, settled: frozenset[int], size: int) -> list[int]:
    """The examples a step's candidates are screened on: the first `size` of the run's order (0..pool-1) that
    are not settled; the first `size` when every example is."""
    open_ = [i for i in range(pool) if i not in settled]
    return (open_ or list(range(pool)))[:size]


def prompt_order(pool: int, screening: Sequence[int]) -> list[int]:
    """A prompt's order of the pool: its screening examples first, then the run's order."""
    first = set(screening)
    return [*screening, *(i for i in range(pool) if i not in first)]


def rank_score(rewards: Rewards, examples: Iterable[int], settled: frozenset[int] = frozenset()) -> float:
    """A prompt's score for ranking on `examples`: its mean on those that are not settled, shrunk toward 1/2
    by one pseudo-example. Prompts ranked on different examples (candidates screened before and after an
    example settled) are then compared on what tells them apart; on the same examples the order is the mean's."""
    informative = [rewards[i] for i in examples if i not in settled]
    return (sum(informative) + 0.5) / (len(informative) + 1)


def reached(rewards: Rewards, eligible: Sequence[int], rungs: Sequence[int]) -> int:
    """The highest rung a prompt has completed along its order of the pool (-1: none)."""
    return rung_of(len(prefix(rewards, eligible)), len(eligible), rungs)


def promotion(
    rewards: Mapping[str, Rewards],
    eligible: Mapping[str, Sequence[int]],
    rungs: Sequence[int],
    incumbent: str,
    eta: int = ETA,
    settled: frozenset[int] = frozenset(),
) -> tuple[str, int] | None:
    """Asynchronous successive halving (ASHA): the next prompt to score further, and the rung it goes to.

    Each prompt is scored along its order of the pool (`eligible[name]`: the run's order without its own shots,
    its step's screening examples first), so prompts are ranked on mostly the same examples. At each rung,
    highest first, the best 1/`eta` (rounded up) of the challengers that completed it go on, one at a time; past
    the screening rung only those ahead of the incumbent on the examples both were scored on, so calls go to
    prompts that could replace it (on the screening minibatch alone the incumbent may just have been lucky: a
    step's prompts are screened on the same few examples). Ranks leave `settled` examples out (`rank_score`).
    Ties keep the order of `rewards` (the older prompt first). None: nothing is due.
    """
    completed = {name: reached(rewards[name], eligible[name], rungs) for name in rewards}
    for rung in reversed(range(len(rungs) - 1)):
        size = rungs[rung]
        done = [name for name in rewards if completed[name] >= rung and name != incumbent]
        ranked = sorted(done, key=lambda name: -rank_score(rewards[name], eligible[name][:size], settled))
        for name in ranked[: math.ceil(len(done) / eta)]:
            if completed[name] != rung:
                continue
            if rung == 0 or paired(rewards[name], rewards[incumbent], eligible[name][:size]).diff > 0:
                return name, rung + 1
    return None


def standing(
    rewards: Mapping[str, Rewards],
    eligible: Mapping[str, Sequence[int]],
    rungs: Sequence[int],
    settled: frozenset[int] = frozenset(),
) -> list[str]:
    """Prompts best first: the highest rung completed, then the score on that rung's examples (`rank_score`);
    ties keep the order of `rewards`."""
    def key(item: tuple[int, str]) -> tuple[int, float, int]:
        order, name = item
        scored = len(prefix(rewards[name], eligible[name]))
        rung = rung_of(scored, len(eligible[name]), rungs)
        examples = eligible[name][: rungs[rung] if rung >= 0 else scored]
        return (-rung, -rank_score(rewards[name], examples, settled), order)

    return [name for _, name in sorted(enumerate(rewards), key=key)]


def pooled_verdict(pairs: list[tuple[dict[int, float], dict[int, float]]], alpha: float) -> int:
    """Which side of every (a, b) pair of prompts wins the paired sign test pooled over all the pairs, example by
    example: 1 for a, -1 for b, 0 while neither does at `alpha`."""
    wins = losses = 0
    for a, b in pairs:
        result = paired(a, b)
        wins, losses = wins + result.wins, losses + result.losses
    return 1 if sign_test(wins, losses) < alpha else -1 if sign_test(losses, wins) < alpha else 0
