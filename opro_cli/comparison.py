"""Two prompts on the same examples: `opro compare` (two artifacts) and `opro eval --baseline` (the artifact
against the seed prompt it started from). Both prompts share one LM, so one cache and one usage count."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .artifact import Artifact, load_artifact
from .data import Dataset, load_dataset
from .errors import InputError
from .jobs import CallOptions, EvalResult, evaluate_prompt
from .lm import LM
from .optimizer import Prediction
from .prompt import Prompt
from .stats import Agreement, PairedDifference, agreement, paired_bootstrap

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
        a_rewards = [p.reward for p in a.predictions]
        b_rewards = [p.reward for p in b.predictions]
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


def seed_prompt(artifact: Artifact) -> Prompt:
    """The prompt the optimisation started from: the spec's instructions, no shots."""
    return Prompt(instructions=artifact.task_spec().prompt.instructions)


def score_baseline(
    artifact: Artifact,
    data: Path | Dataset,
    model: str | None,
    lm: LM,
    on_done: Callable[[Prediction], None] | None = None,
) -> EvalResult:
    """The seed prompt on the same data, model and answer format as the artifact's own evaluation."""
    return evaluate_prompt(
        artifact.task_spec(), seed_prompt(artifact), data, artifact, model, lm=lm, on_done=on_done, seed_format=True
    )


class CompareJob:
    """`opro compare`: each artifact's prompt with its own spec and answer format, on the same data, through one
    LM (one cache, one usage count). Artifacts and data are loaded when the job is made, so bad input fails before
    a call (and the number of answers to come is known, for the time left)."""

    def __init__(self, a_path: Path, b_path: Path, data: Path, options: CallOptions, model: str | None = None) -> None:
        self.a, self.b = load_artifact(a_path), load_artifact(b_path)
        self.data = (load_dataset(data, self.a.task_spec()), load_dataset(data, self.b.task_spec()))
        self.model = model
        self.lm = options.make_lm(self.a.task_spec().optimizer.concurrency)

    @property
    def total(self) -> int:
        """Answers the comparison will score: every example, once per prompt."""
        return sum(len(dataset) for dataset in self.data)

    def run(self, on_done: Callable[[Prediction], None] | None = None) -> Comparison:
        a = evaluate_prompt(self.a.task_spec(), self.a.prompt, self.data[0], self.a, self.model, on_done=on_done, lm=self.lm)
        b = evaluate_prompt(self.b.task_spec(), self.b.prompt, self.data[1], self.b, self.model, on_done=on_done, lm=self.lm)
        return Comparison.of(a, b)
