"""The FewShotOPRO update, as pure functions of (state, scored batch): no LM, no I/O, seeded randomness.

One step, after the current prompt has run on a training batch:
1. `observe_batch`: each prediction keeps its own reward; the `k_best` best predictions are kept, and `k` shots
   are drawn at random among the correct ones (filled with labelled batch examples when too few are correct,
   so a prompt that gets nothing right can still learn the format from shots).
2. the optimizer LM is asked for new instructions (`meta_prompt.py`: the scored instructions in ascending order,
   best last, and a few (input, expected) pairs; the reply is read between <INS> tags).
3. `candidate_prompts`: parsed proposals (deduplicated, length-capped) and the best instructions, each with the
   new shots, become the candidates to score on validation data.
4. `record_scores`: candidates join the `k_best` best scored ones; the best scored prompt is kept and becomes
   the current prompt. An unscored proposal never wins.
"""

from __future__ import annotations

import random

from pydantic import BaseModel, ConfigDict, Field

from .prompt import Prompt, Shot
from .spec import OptimizerSpec

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


class Candidate(BaseModel):
    """A prompt with its validation score; `structured` says whether the answer was asked for by schema."""

    model_config = ConfigDict(frozen=True)

    prompt: Prompt
    score: float
    step: int
    structured: bool = False

    def key(self) -> tuple[object, ...]:
        return (*self.prompt.key(), self.structured)


class StepRecord(BaseModel):
    """What one step did, for the artifact's history and `opro report`."""

    step: int
    epoch: int
    batch_reward: float
    parse_failures: int
    shots_from_predictions: int
    proposals: int
    proposals_kept: int
    candidates: list[Candidate]
    best_score: float


class OptimizerState(BaseModel):
    """Everything the next step needs; checkpointed after each step, so it stays small (lists are trimmed)."""

    step: int = 0
    best: Candidate  # also the prompt the next batch runs with
    seed_score: float
    predictions: list[Prediction] = Field(default_factory=list)
    candidates: list[Candidate] = Field(default_factory=list)
    seen_instructions: list[str] = Field(default_factory=list)
    history: list[StepRecord] = Field(default_factory=list)


def initial_state(seeds: list[Candidate]) -> OptimizerState:
    """Start from the seed prompt, scored in one or more output modes; the first is the reported seed score."""
    best = seeds[0]
    for seed in seeds[1:]:
        if seed.score > best.score:
            best = seed
    return OptimizerState(
        best=best,
        seed_score=seeds[0].score,
        candidates=list(seeds),
        seen_instructions=[_norm(seeds[0].prompt.instructions)],
    )


def step_rng(seed: int, step: int) -> random.Random:
    """A generator per step, so a resumed run draws exactly what an uninterrupted one would."""
    return random.Random(f"{seed}:step:{step}")


def observe_batch(
    state: OptimizerState,
    batch: list[Prediction],
    settings: OptimizerSpec,
    rng: random.Random,
) -> tuple[OptimizerState, tuple[Shot, ...], int]:
    """Keep the best predictions and draw the next shots; returns (state, shots, shots taken from predictions)."""
    pool = _best_predictions(state.predictions, batch, settings.k_best)
    drawn = _draw_balanced([p for p in pool if p.reward >= 1.0], settings.k, rng)
    shots = [Shot(inputs=p.inputs, answer=p.expected, fields=p.fields) for p in drawn]
    taken = {tuple(sorted(s.inputs.items())) for s in shots}
    spares = [p for p in batch if tuple(sorted(p.inputs.items())) not in taken]
    shots += [Shot(inputs=p.inputs, answer=p.expected) for p in _draw_balanced(spares, settings.k - len(shots), rng)]
    rng.shuffle(shots)
    return state.model_copy(update={"predictions": pool}), tuple(shots), len(drawn)


def _draw_balanced(predictions: list[Prediction], k: int, rng: random.Random) -> list[Prediction]:
    """k at random, spread over the distinct expected answers: shots that all say "positive" teach a small
    model to say "positive" to everything. With free-text answers (all distinct) this is a plain sample."""
    groups: dict[str, list[Prediction]] = {}
    for p in predictions:
        groups.setdefault(p.expected, []).append(p)
    for members in groups.values():
        rng.shuffle(members)
    order = sorted(groups)
    rng.shuffle(order)
    drawn: list[Prediction] = []
    while len(drawn) < k and any(groups.values()):
        for answer in order:
            if groups[answer] and len(drawn) < k:
                drawn.append(groups[answer].pop())
    return drawn


def _best_predictions(kept: list[Prediction], batch: list[Prediction], k_best: int) -> list[Prediction]:
    """Highest reward first; among equals the answers take turns (so every label keeps examples) and the
    newest come first (so the pool keeps moving); one entry per input."""
    merged: dict[tuple[tuple[str, str], ...], Prediction] = {}
    for p in [*batch, *kept]:
        merged.setdefault(tuple(sorted(p.inputs.items())), p)
    turns: dict[tuple[float, str], int] = {}
    ranked = []
    for p in sorted(merged.values(), key=lambda p: -p.reward):
        turn = turns[(p.reward, p.expected)] = turns.get((p.reward, p.expected), -1) + 1
        ranked.append((-p.reward, turn, len(ranked), p))
    return [p for *_, p in sorted(ranked, key=lambda r: r[:3])][:k_best]


def proposals_exhausted(history: list[StepRecord], patience: int) -> bool:
    """A model that cannot write instructions (small local ones answer the meta-prompt with chatter) is not
    asked again after `patience` steps without one usable proposal: its calls buy nothing. 0: always ask."""
    asked = [record for record in history if record.proposals]
    return bool(patience) and len(asked) >= patience and not any(record.proposals_kept for record in asked)


def candidate_prompts(
    state: OptimizerState,
    proposals: list[str | None],
    shots: tuple[Shot, ...],
    modes: tuple[bool, ...] = (),
) -> tuple[OptimizerState, list[tuple[Prompt, bool]]]:
    """(prompt, structured) pairs to score: the best instructions with the new shots in every output mode
    still open, then each new, unseen proposal with the same shots in the best prompt's mode."""
    seen = list(state.seen_instructions)
    best = state.best
    pairs = [(Prompt(instructions=best.prompt.instructions, shots=shots), mode) for mode in modes or (best.structured,)]
    for proposal in proposals:
        if proposal is None or _norm(proposal) in seen:
            continue
        seen.append(_norm(proposal))
        pairs.append((Prompt(instructions=proposal, shots=shots), best.structured))
    scored = {c.key() for c in state.candidates} | {best.key()}
    fresh = [(p, mode) for p, mode in pairs if (*p.key(), mode) not in scored]
    return state.model_copy(update={"seen_instructions": seen}), fresh


def record_scores(
    state: OptimizerState,
    scored: list[Candidate],
    *,
    epoch: int,
    batch: list[Prediction],
    shots_from_predictions: int,
    proposals: list[str | None],
    k_best: int,
) -> OptimizerState:
    """Keep the `k_best` best candidates; a newcomer must beat the best strictly to replace it."""
    best = state.best
    for candidate in scored:
        if candidate.score > best.score:
            best = candidate
    pool = sorted([*state.candidates, *scored], key=lambda c: (-c.score, c.step))[:k_best]
    record = StepRecord(
        step=state.step + 1,
        epoch=epoch,
        batch_reward=sum(p.reward for p in batch) / len(batch) if batch else 0.0,
        parse_failures=sum(1 for p in batch if p.answer is None),
        shots_from_predictions=shots_from_predictions,
        proposals=len(proposals),
        proposals_kept=sum(1 for p in proposals if p is not None),
        candidates=scored,
        best_score=best.score,
    )
    return state.model_copy(
        update={
            "step": state.step + 1,
            "best": best,
            "candidates": pool,
            "history": [*state.history, record],
        }
    )


def _norm(instructions: str) -> str:
    return " ".join(instructions.lower().split())
