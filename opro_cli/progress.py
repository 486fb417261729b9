"""A snapshot of a running job for the live display (`reports.live`): the search and the evaluations send them,
and know nothing of how they are drawn."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Progress:
    """A snapshot for the live display; the trainer knows nothing of how it is drawn.

    The best prompt is the one accepted so far (the seed prompt until a challenger wins the paired test); the
    leader is the race's front runner, which may score far above it for several steps before it is verified:
    showing both is what tells a watcher the search is finding something."""

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
    budget: int = 0  # the search's answers and proposals (`Plan.budget`); `judges` calls more per answer judged
    judges: int = 0
    best_examples: int = 0  # examples the best prompt's score is over
    leader_score: float | None = None  # None: no candidate scored yet, or the best prompt leads the race
    leader_examples: int = 0
    note: str = ""  # why the step count went past the plan's estimate, or what a verification decided
