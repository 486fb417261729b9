"""A snapshot of a running job for the live display (`reports.live`): the search and the evaluations send them,
and know nothing of how they are drawn."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Progress:
    """A snapshot for the live display; the trainer knows nothing of how it is drawn."""

    phase: str
    step: int
    total_steps: int
    epoch: int
    best_score: float | None = None
    seed_score: float | None = None
    batch_reward: float | None = None
    done: int = 0
    total: int = 0
    spent: int = 0
    budget: int = 0
