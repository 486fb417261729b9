"""The FewShotOPRO search state and its updates, as pure functions: no LM, no I/O, seeded randomness.

Every prompt the search looks at is an `Entry` with its own per-example rewards on the validation pool (an
example a prompt has as a shot is never one it is scored on). One step, after the incumbent (the best prompt
so far) has answered the step's minibatch:
1. `observe`: each prediction keeps its own reward; the `k_best` best are kept as the shot pool.
2. `shots.draw_shot_sets`: several shot sets, from correct predictions first, spread over the answers.
3. `candidates.add_entries`: the incumbent's instructions with each new shot set, in every output mode, and each new
   instruction from the optimizer model with the incumbent's shots, become the step's candidates.
4. The run races them (`screening`, `verification`) and `accept`s a winner; `record_step` writes the history.
The final choice is the incumbent, whose score is re-measured on the whole pool before it is written.
"""

from __future__ import annotations

import hashlib
import json
import random

from pydantic import BaseModel, ConfigDict, Field

from ..scoring.prediction import Prediction, inputs_key
from ..scoring.prompt import Prompt
from ..scoring.stats import mean_interval
from .racing import beats_seed, paired


class Entry(BaseModel):
    """A prompt in the search, with its reward on every validation example it was scored on (by index)."""

    prompt: Prompt
    structured: bool = False
    step: int
    origin: str  # seed | shots | instructions | mode
    rewards: dict[int, float] = Field(default_factory=dict)
    # The pool examples it is screened on, scored first; then the run's order. Empty: the run's order alone.
    screening: list[int] = Field(default_factory=list)
    # Its lowest-scored answers (below full credit), first found first, for the meta-prompt's {failures}.
    failures: list[Prediction] = Field(default_factory=list)

    @property
    def id(self) -> str:
        return entry_id(self.prompt, self.structured)

    @property
    def score(self) -> float:
        return sum(self.rewards.values()) / len(self.rewards) if self.rewards else 0.0

    def interval(self) -> tuple[float, float]:
        return mean_interval(list(self.rewards.values()))


class Candidate(BaseModel):
    """A scored prompt as the history and `opro report` show it: score over `examples` validation examples."""

    model_config = ConfigDict(frozen=True)

    prompt: Prompt
    score: float
    step: int
    structured: bool = False
    examples: int = 0
    promoted: bool = False  # scored beyond the screening minibatch
    accepted: bool = False  # replaced the best prompt

    def key(self) -> tuple[object, ...]:
        return (*self.prompt.key(), self.structured)


class StepRecord(BaseModel):
    """What one step did, for the artifact's history and `opro report`."""

    step: int
    epoch: int
    batch_reward: float  # the incumbent on the step's minibatch
    parse_failures: int
    shots_from_predictions: int
    proposals: int
    proposals_kept: int
    candidates: list[Candidate]
    best_score: float
    screened: int = 0
    promoted: int = 0


class OptimizerState(BaseModel):
    """Everything the next step needs; checkpointed after each step (at most `k_best` predictions kept)."""

    step: int = 0
    entries: dict[str, Entry]
    seed_id: str
    best_id: str
    chain: list[str] = Field(default_factory=list)  # the incumbents in the order they won, seed first
    predictions: list[Prediction] = Field(default_factory=list)
    seen_instructions: list[str] = Field(default_factory=list)
    spent: int = 0  # evaluations and proposal calls made by the search (cached or not): what the budget counts
    screened: int = 0
    promoted: int = 0
    stalled: int = 0  # steps in a row that found no new candidate
    history: list[StepRecord] = Field(default_factory=list)

    @property
    def best(self) -> Entry:
        return self.entries[self.best_id]

    @property
    def seed(self) -> Entry:
        return self.entries[self.seed_id]


def entry_id(prompt: Prompt, structured: bool) -> str:
    key = json.dumps([*prompt.key(), structured], sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def initial_state(seed_prompt: Prompt, structured: bool) -> OptimizerState:
    """The spec's prompt, in the answer mode the format resolved to, is the first incumbent."""
    seed = Entry(prompt=seed_prompt, structured=structured, step=0, origin="seed")
    return OptimizerState(
        entries={seed.id: seed},
        seed_id=seed.id,
        best_id=seed.id,
        chain=[seed.id],
        seen_instructions=[norm_instructions(seed_prompt.instructions)],
    )


def step_rng(seed: int, step: int) -> random.Random:
    """A generator per step, so a resumed run draws exactly what an uninterrupted one would."""
    return random.Random(f"{seed}:step:{step}")


def with_rewards(state: OptimizerState, entry: str, rewards: dict[int, float]) -> OptimizerState:
    """Record new per-example rewards of one entry; each new one is one evaluation spent."""
    old = state.entries[entry]
    fresh = {i: r for i, r in rewards.items() if i not in old.rewards}
    updated = old.model_copy(update={"rewards": {**old.rewards, **fresh}})
    return state.model_copy(update={"entries": {**state.entries, entry: updated}, "spent": state.spent + len(fresh)})


def observe(state: OptimizerState, batch: list[Prediction], k_best: int) -> OptimizerState:
    """Keep the `k_best` best predictions, the pool shots are drawn from."""
    return state.model_copy(update={"predictions": _best_predictions(state.predictions, batch, k_best)})


def accept(state: OptimizerState, winner: str) -> OptimizerState:
    """The winner of a race becomes the incumbent: the prompt the next steps build on."""
    return state.model_copy(update={"best_id": winner, "chain": [*state.chain, winner]})


def final_choice(state: OptimizerState) -> OptimizerState:
    """The guard on the result: the latest incumbent that beats the seed prompt in the paired test
    (`racing.beats_seed`) on the examples both were scored on, else the seed prompt. Incumbents after the first
    may have won at a looser level against each other; none is returned unless it beats where the user started."""
    seed = state.seed.rewards
    for entry in reversed(state.chain[1:]):
        if beats_seed(paired(state.entries[entry].rewards, seed)):
            return state.model_copy(update={"best_id": entry})
    return state.model_copy(update={"best_id": state.seed_id})


def record_step(
    state: OptimizerState,
    *,
    epoch: int,
    batch_rewards: list[float],
    parse_failures: int,
    candidates: list[str],
    promoted: list[str],
    accepted: str | None,
    shots_from_predictions: int,
    proposals: list[str | None],
    screened: bool = True,
) -> OptimizerState:
    """Close a step: its history record, and the counters `opro report` and the summary show. A verification
    (`screened=False`) scores candidates screened in earlier steps: they are not counted as screened again."""
    shown = [
        Candidate(prompt=e.prompt, score=e.score, step=e.step, structured=e.structured, examples=len(e.rewards),
                  promoted=cid in promoted, accepted=cid == accepted)
        for cid in candidates
        for e in [state.entries[cid]]
    ]
    record = StepRecord(
        step=state.step + 1,
        epoch=epoch,
        batch_reward=sum(batch_rewards) / len(batch_rewards) if batch_rewards else 0.0,
        parse_failures=parse_failures,
        shots_from_predictions=shots_from_predictions,
        proposals=len(proposals),
        proposals_kept=sum(1 for p in proposals if p is not None),
        candidates=shown,
        best_score=state.best.score,
        screened=len(candidates) if screened else 0,
        promoted=len(promoted),
    )
    history = [*state.history, record]
    return state.model_copy(
        update={
            "step": state.step + 1,
            "history": history,
            "screened": state.screened + record.screened,
            "promoted": len({c.key() for r in history for c in r.candidates if c.promoted}),
        }
    )


def _best_predictions(kept: list[Prediction], batch: list[Prediction], k_best: int) -> list[Prediction]:
    """Highest reward first; among equals the answers take turns (so every label keeps examples) and the
    newest come first (so the pool keeps moving); one entry per input."""
    merged: dict[tuple[tuple[str, str], ...], Prediction] = {}
    for p in [*batch, *kept]:
        merged.setdefault(inputs_key(p.inputs), p)
    turns: dict[tuple[float, str], int] = {}
    ranked = []
    for p in sorted(merged.values(), key=lambda p: -p.reward):
        turn = turns[(p.reward, p.expected)] = turns.get((p.reward, p.expected), -1) + 1
        ranked.append((-p.reward, turn, len(ranked), p))
    return [p for *_, p in sorted(ranked, key=lambda r: r[:3])][:k_best]


def norm_instructions(instructions: str) -> str:
    """Instructions as compared for "seen before": case and spacing do not make a new one."""
    return " ".join(instructions.lower().split())
