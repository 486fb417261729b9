"""Racing and paired acceptance: which candidates earn more evaluation calls, and when one replaces the best.

Pure functions over per-example rewards (`{example index: reward}`), so the schedule and the acceptance rule
are tested without any LM. Every comparison is paired: two prompts are compared only on examples both were
scored on (and neither has as a shot), so the noise of which examples were drawn cancels out.

- `rung_sizes`: a candidate is screened on a minibatch, and the survivors are scored on twice as many
  examples at each rung, up to the whole pool (successive halving).
- `survivors`: after screening, the candidates not behind the incumbent on the minibatch, best half kept;
  `leaders`: after a later rung, the better half of the survivors.
- `sign_test`: the exact one-sided sign test on the examples where the two prompts disagree (McNemar's
  exact test for 0/1 rewards); a challenger replaces the incumbent only when it is significant.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Rewards = Mapping[int, float]
ALPHA = 0.05  # one-sided: a challenger must beat the seed prompt at this level on the whole pool ...
EARLY_ALPHA = 0.01  # ... or at this stricter one on a partial rung (a clear winner needs no more calls).
# Between two prompts that both beat the seed prompt, a wrong choice costs little and a missed gain a lot, so a
# challenger may replace such an incumbent at a looser level; the final guard against the seed prompt
# (`final_choice`) still holds the result to ALPHA.
REFINE_ALPHA = 0.2
EARLY_REFINE_ALPHA = 0.05


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

    def significant(self, alpha: float = ALPHA) -> bool:
        return self.wins > self.losses and self.p_value < alpha


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


def sign_test(wins: int, losses: int) -> float:
    """P(at least `wins` of `wins + losses` fair coin flips): the chance a prompt no better than the incumbent
    wins this often. Ties carry no information and are left out, as in McNemar's exact test."""
    n = wins + losses
    if n == 0:
        return 1.0
    return sum(math.comb(n, j) for j in range(wins, n + 1)) / 2**n


def rung_sizes(first: int, total: int) -> list[int]:
    """Cumulative examples per rung: `first`, then doubling, the last rung being the whole pool."""
    sizes, size = [], max(1, first)
    while size < total:
        sizes.append(size)
        size *= 2
    return [*sizes, total]


def survivors(
    candidates: list[str],
    rewards: Mapping[str, Rewards],
    incumbent: str,
    examples: Mapping[str, list[int]],
    *,
    first_rung: bool,
) -> list[str]:
    """Who goes on to the next rung: candidates not behind the incumbent on their shared examples (on the
    screening minibatch a tie goes on, since a perfect incumbent can only be tied there; later a challenger must
    be ahead), best first, at most half of them rounded up. Ties in the ranking keep the candidates' order."""
    standing = []
    for order, name in enumerate(candidates):
        result = paired(rewards[name], rewards[incumbent], examples[name])
        ahead = result.diff >= 0 if first_rung else result.diff > 0
        if ahead:
            standing.append((-result.diff, order, name))
    standing.sort()
    keep = max(1, math.ceil(len(candidates) / 2)) if len(candidates) > 1 else 1
    return [name for *_, name in standing[:keep]]


def leaders(
    candidates: list[str], rewards: Mapping[str, Rewards], examples: Mapping[str, list[int]], at_least: int = 1
) -> list[str]:
    """The better half (rounded up, and at least `at_least`) by each one's mean reward on its own examples of
    the rung, which are the same examples but for each one's shots; ties keep the candidates' order."""
    def mean(name: str) -> float:
        scored = [rewards[name][i] for i in examples[name] if i in rewards[name]]
        return sum(scored) / len(scored) if scored else 0.0

    ranked = sorted(range(len(candidates)), key=lambda order: (-mean(candidates[order]), order))
    return [candidates[order] for order in ranked[: max(at_least, math.ceil(len(candidates) / 2))]]


def wilson_interval(successes: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % interval of a success rate from n 0/1 outcomes; sound at 0 % and 100 % and for small n."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))
