"""One example run through a prompt, and an example's identity (how shots and predictions find their example)."""

from __future__ import annotations

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


def inputs_key(inputs: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """An example's identity: its input fields (shots and predictions are matched to examples by it)."""
    return tuple(sorted(inputs.items()))
