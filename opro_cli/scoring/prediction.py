"""One example run through a prompt, a reward's verdict on it, and an example's identity (how shots and
predictions find their example)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


class Prediction(BaseModel):
    """One example run through a prompt: what came back, what it was read as, and its own reward."""

    model_config = ConfigDict(frozen=True)

    inputs: dict[str, str]
    expected: str
    raw: str
    answer: str | None
    fields: dict[str, str] = Field(default_factory=dict)
    reward: float
    error: str | None = None
    reason: str | None = None  # why the reward is below full credit (`Verdict.reason`)
    unreadable_verdict: bool = False  # a judge's verdict that could not be read (scored 0)


@dataclass(frozen=True)
class Verdict:
    """A reward's score in [0, 1] and, below full credit, a short reason: what `eval` writes beside each example
    and what the optimizer model reads of the incumbent's failures. `unreadable`: a judge's reply that gave no
    verdict (it scores 0, is counted and shown, and never stops a run)."""

    score: float
    reason: str | None = None
    unreadable: bool = False


def inputs_key(inputs: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """An example's identity: its input fields (shots and predictions are matched to examples by it)."""
    return tuple(sorted(inputs.items()))
