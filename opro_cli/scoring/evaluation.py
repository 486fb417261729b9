"""A prompt's score on a data file (`EvalResult`), and two prompts compared on the same examples (`Comparison`:
`opro compare`, and `opro eval --baseline` against the seed prompt). The results live on disk (`ResultRows`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InputError
from ..lm import Usage
from .prediction import Prediction
from .results import ResultRows
from .stats import Agreement, PairedDifference, agreement, paired_bootstrap


@dataclass
class EvalResult:
    """A prompt's score on a data file, with its per-example results, which live on disk (`rows`), not in memory;
    `baseline` compares it with the seed prompt when that was asked for."""

    score: float
    rows: ResultRows
    usage: Usage
    model: str
    baseline: Comparison | None = None
    judge_usage: Usage | None = None  # the judge's share of `usage`, when the reward is judged

    @property
    def rewards(self) -> Sequence[float]:
        return self.rows.rewards

    @property
    def examples(self) -> int:
        return len(self.rows)

    @property
    def parse_failures(self) -> int:
        return self.rows.parse_failures

    @property
    def unreadable_verdicts(self) -> int:
        """Answers whose judge gave no verdict that could be read (each scored 0)."""
        return self.rows.unreadable_verdicts

    @property
    def predictions(self) -> list[Prediction]:
        """Every prediction, read back into memory: for small data and the Python API."""
        return [prediction for _, prediction in self.rows]


BOOTSTRAP_SEED = 0


@dataclass
class Comparison:
    """Prompt b against prompt a, example by example; the difference is always b - a.

    `a.usage` and `b.usage` are the same object: the shared LM's total for both runs."""

    a: EvalResult
    b: EvalResult
    difference: PairedDifference
    agreement: Agreement

    @classmethod
    def of(cls, a: EvalResult, b: EvalResult, seed: int = BOOTSTRAP_SEED) -> Comparison:
        a_rewards, b_rewards = a.rewards, b.rewards
        if len(a_rewards) != len(b_rewards):
            raise InputError(f"the prompts were scored on {len(a_rewards)} and {len(b_rewards)} examples")
        return cls(a, b, paired_bootstrap(a_rewards, b_rewards, seed), agreement(a_rewards, b_rewards))

    @property
    def verdict(self) -> str:
        if self.difference.better:
            return "b is better"
        if self.difference.worse:
            return "b is worse"
        return "no significant difference"
