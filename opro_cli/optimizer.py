"""The FewShotOPRO search state and its updates, as pure functions: no LM, no I/O, seeded randomness.

Every prompt the search looks at is an `Entry` with its own per-example rewards on the validation pool (an
example a prompt has as a shot is never one it is scored on). One step, after the incumbent (the best prompt
so far) has answered the step's minibatch:
1. `observe`: each prediction keeps its own reward; the `k_best` best are kept as the shot pool.
2. `draw_shot_sets`: several shot sets, from correct predictions first, spread over the answers.
3. `add_entries`: the incumbent's instructions with each new shot set, in every output mode, and each new
   instruction from the optimizer model with the incumbent's shots, become the step's candidates.
4. The trainer races them (`racing.py`) and `accept`s a winner; `record_step` writes the history.
The final choice is the incumbent, whose score is re-measured on the whole pool before it is written.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter

from pydantic import BaseModel, ConfigDict, Field

from .prompt import Prompt, Shot
from .racing import ALPHA, paired, sign_test, wilson_interval

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


class Entry(BaseModel):
    """A prompt in the search, with its reward on every validation example it was scored on (by index)."""

    prompt: Prompt
    structured: bool = False
    step: int
    origin: str  # seed | shots | instructions | mode
    rewards: dict[int, float] = Field(default_factory=dict)
    # The pool examples it is screened on, scored first; then the run's order. Empty: the run's order alone.
    screening: list[int] = Field(default_factory=list)

    @property
    def id(self) -> str:
        return entry_id(self.prompt, self.structured)

    @property
    def score(self) -> float:
        return sum(self.rewards.values()) / len(self.rewards) if self.rewards else 0.0

    def interval(self) -> tuple[float, float]:
        return wilson_interval(sum(self.rewards.values()), len(self.rewards))


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
        seen_instructions=[_norm(seed_prompt.instructions)],
    )


MAX_AUTO_SHOTS = 8


def shots_per_prompt(k: int | str, answers: list[str]) -> int:
    """`k`, or for `auto` one shot per answer when the answers form a small label set (at least 3 shots): a
    small model rarely gives an answer its shots never show, so a prompt with 3 shots on a 4-label task gives
    up a quarter of the examples before it starts. Free-text answers (mostly distinct) get 3."""
    if k != "auto":
        return int(k)
    labels = len(set(answers))
    return max(3, labels) if labels <= min(MAX_AUTO_SHOTS, len(answers) // 2) else 3


def longer_shots(k: int | str, answers: list[str]) -> int | None:
    """For `auto` on a label set of 3 to 7 answers, a second shot count tried beside one shot per answer: two per
    answer (at most MAX_AUTO_SHOTS). Which is better depends on the task and the model: on the embedded model,
    random shot sets with two per answer scored 6 and 15 points higher than with one on two tasks, and 31 lower
    on another, so the search tries both on the same draws and keeps the one that wins (`live_shot_counts`).
    Two answers get 3 shots already, and one more bought nothing there but fewer distinct draws. None: `k` only."""
    if k != "auto":
        return None
    labels = len(set(answers))
    small_label_set = 2 < labels < MAX_AUTO_SHOTS and 2 * labels <= len(answers) // 2
    return min(MAX_AUTO_SHOTS, 2 * labels) if small_label_set else None


def live_shot_counts(state: OptimizerState, k: int, longer: int | None, alpha: float = ALPHA) -> tuple[int, ...]:
    """The shot counts fresh draws still use: (k, longer) while both are tried, then the one that won. Each pair of
    candidates from one draw (`longer` shots, and `k` of them) differs only in the extra shots, so the two counts
    are compared on pairs, example by example; once one loses the paired sign test at `alpha` (pooled over every
    pair so far), fresh draws use the other only."""
    if longer is None:
        return (k,)
    by_id = {(entry.prompt.key(), entry.structured): entry for entry in state.entries.values()}
    pairs = []  # the longer, then the shorter of the same draw
    for entry in state.entries.values():
        if entry.origin == "shots" and len(entry.prompt.shots) == longer:
            short = Prompt(instructions=entry.prompt.instructions, shots=_fewer(entry.prompt.shots, k))
            partner = by_id.get((short.key(), entry.structured))
            if partner is not None:
                pairs.append((entry.rewards, partner.rewards))
    verdict = _pooled_verdict(pairs, alpha)
    return (k, longer) if verdict == 0 else (longer,) if verdict > 0 else (k,)


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


def draw_shot_sets(
    state: OptimizerState,
    spares: list[Prediction],
    count: int,
    k: int,
    rng: random.Random,
    leader: str | None = None,
    local: bool = True,
    frequency: Counter[str] | None = None,
    longer: int | None = None,
) -> tuple[list[tuple[Shot, ...]], int]:
    """`count` shot sets of `k`. Every other set, once the leader (default: the incumbent) has shots, is a local
    step around it: its shots with one swapped for another of the same answer, or the same shots reordered. Such
    a prompt's answers mostly agree with the leader's, so a paired test can tell a small gain apart from noise.
    The others are fresh draws, each spread over the distinct answers (shots that all say "world" teach a small
    model to say "world"); for each answer a correct prediction
    comes first (it carries the model's own extra fields, e.g. its reasoning), else a labelled example from
    `spares`, so a prompt that gets nothing right can still learn the format. Returns the sets and how many shots
    came from correct predictions. `spares` must already exclude the examples candidates are screened on.
    `local=False`: fresh draws only (a leader that does not stand out is not worth searching around).
    `frequency`: how often each answer is expected in the data; fresh draws put the commonest answers last. Not
    every one once candidates were screened and the leader (with shots) does not stand out: then every other set
    ends on an answer that is neither the commonest nor the one the leader's shots end on (`_draw_balanced`),
    and every set does when the leader's shots end on a commonest answer.
    `longer`: fresh draws come in pairs, `longer` shots and `k` of them (one per answer first, same order), so
    the two shot counts are compared on prompts that differ only in the extra shots (`live_shot_counts`)."""
    if k == 0 or count == 0:
        return [], 0
    allowed = {inputs_key(p.inputs) for p in spares}
    correct = [p for p in state.predictions if p.reward >= 1.0 and inputs_key(p.inputs) in allowed]
    proven = {inputs_key(p.inputs) for p in correct}
    pool = [*correct, *(p for p in spares if inputs_key(p.inputs) not in proven)]
    base = state.entries[leader or state.best_id].prompt.shots
    escape = not local and state.step > 0 and bool(base)  # from a run whose prompts all score alike
    # A leader ending on a commonest answer leans as commonest-last draws would: then all draws escape.
    leaning = escape and _commonest(base[-1].answer, frequency)
    sets, from_predictions, turn = [], 0, 0
    while len(sets) < count:
        if local and turn % 2 and len(base) in (k, longer):
            group = [_swap_one(base, pool, rng) if turn % 4 == 1 else _reorder(base, rng)]
        else:
            last_not = base[-1].answer if escape and (turn % 2 or leaning) else None
            drawn = tuple(Shot(inputs=p.inputs, answer=p.expected, fields=p.fields)
                          for p in _draw_balanced(pool, longer or k, rng, preferred=proven, frequency=frequency,
                                                  last_not=last_not))
            group = [_fewer(drawn, k), drawn] if longer else [drawn]
        turn += 1
        for shots in group[: count - len(sets)]:
            sets.append(shots)
            from_predictions += sum(1 for shot in shots if inputs_key(shot.inputs) in proven)
    return sets, from_predictions


def _commonest(answer: str, frequency: Counter[str] | None) -> bool:
    """Whether the data expects no answer more often than `answer` (a commonest-last draw may end on it)."""
    counts = frequency or Counter()
    return counts[answer] > 0 and all(counts[answer] >= n for n in counts.values())


def _fewer(shots: tuple[Shot, ...], k: int) -> tuple[Shot, ...]:
    """`k` of the shots, the answers taking turns (one per answer first), in the order they had."""
    turns: dict[str, int] = {}
    ranked = []
    for position, shot in enumerate(shots):
        turns[shot.answer] = turns.get(shot.answer, -1) + 1
        ranked.append((turns[shot.answer], position))
    return tuple(shots[position] for position in sorted(position for _, position in sorted(ranked)[:k]))


def _reorder(base: tuple[Shot, ...], rng: random.Random) -> tuple[Shot, ...]:
    """The same shots in another order: a small model leans toward the answer of the shot it read last, so
    the order alone can move its score by many points (Lu et al. 2022, "Fantastically ordered prompts")."""
    if len({inputs_key(shot.inputs) for shot in base}) < 2:
        return base
    order = list(base)
    while tuple(order) == base:
        rng.shuffle(order)
    return tuple(order)


def _swap_one(base: tuple[Shot, ...], pool: list[Prediction], rng: random.Random) -> tuple[Shot, ...]:
    """The shots with one of them replaced by an example of the same answer (any answer when none is left)."""
    position = rng.randrange(len(base))
    used = {inputs_key(shot.inputs) for shot in base}
    fresh = [p for p in pool if inputs_key(p.inputs) not in used]
    same = [p for p in fresh if p.expected == base[position].answer]
    if not (same or fresh):
        return base
    new = rng.choice(same or fresh)
    return (*base[:position], Shot(inputs=new.inputs, answer=new.expected, fields=new.fields), *base[position + 1 :])


def add_entries(
    state: OptimizerState,
    shot_sets: list[tuple[Shot, ...]],
    proposals: list[str | None],
    modes: tuple[bool, ...],
    leader: str | None = None,
    screening: list[int] | None = None,
) -> tuple[OptimizerState, list[str]]:
    """The step's candidates, new ones only: the leader's (default: the incumbent's) instructions with each shot
    set in every output mode, the seed prompt in the modes not tried yet, and each unseen proposal with the
    leader's shots. `screening`: the pool examples they are screened on."""
    step = state.step + 1
    best = state.entries[leader or state.best_id]
    fresh: list[Entry] = []
    for mode in modes:
        if mode != state.seed.structured:
            fresh.append(Entry(prompt=state.seed.prompt, structured=mode, step=step, origin="mode"))
    for shots in shot_sets:
        for mode in modes:
            fresh.append(Entry(prompt=Prompt(instructions=best.prompt.instructions, shots=shots), structured=mode,
                               step=step, origin="shots"))
    seen = list(state.seen_instructions)
    for proposal in proposals:
        if proposal is None or _norm(proposal) in seen:
            continue
        seen.append(_norm(proposal))
        fresh.append(Entry(prompt=Prompt(instructions=proposal, shots=best.prompt.shots), structured=best.structured,
                           step=step, origin="instructions"))
    entries, ids = dict(state.entries), []
    for entry in fresh:
        if entry.id not in entries:
            entries[entry.id] = entry.model_copy(update={"screening": list(screening or [])})
            ids.append(entry.id)
    stalled = 0 if ids else state.stalled + 1
    return state.model_copy(update={"entries": entries, "seen_instructions": seen, "stalled": stalled}), ids


def drop_unscreened(state: OptimizerState, dropped: list[str]) -> OptimizerState:
    """Candidates a step could not afford to screen leave the state: an entry already in the state is never a
    new candidate, so a shot set or proposal drawn again by a later step would otherwise never be screened."""
    if not dropped:
        return state
    gone = {_norm(state.entries[name].prompt.instructions) for name in dropped
            if state.entries[name].origin == "instructions"}
    return state.model_copy(update={
        "entries": {name: entry for name, entry in state.entries.items() if name not in dropped},
        "seen_instructions": [text for text in state.seen_instructions if text not in gone],
    })


def live_modes(state: OptimizerState, modes: tuple[bool, ...], alpha: float = ALPHA) -> tuple[bool, ...]:
    """The output modes still worth screening candidates in. Every candidate is tried in each mode, so the
    modes are compared on pairs of the same prompt, example by example; once one mode loses that paired sign
    test at `alpha` (pooled over every pair so far), new candidates are screened in the other only: on a given
    model one way of asking for the answer is often plainly better, and its calls are better spent there."""
    if len(modes) < 2:
        return modes
    by_prompt: dict[object, dict[bool, Entry]] = {}
    for entry in state.entries.values():
        by_prompt.setdefault(entry.prompt.key(), {})[entry.structured] = entry
    pairs = [(pair[True].rewards, pair[False].rewards) for pair in by_prompt.values() if len(pair) == 2]
    verdict = _pooled_verdict(pairs, alpha)  # structured over prompt-stated
    return modes if verdict == 0 else (verdict > 0,)


def _pooled_verdict(pairs: list[tuple[dict[int, float], dict[int, float]]], alpha: float) -> int:
    """Which side of every (a, b) pair of prompts wins the paired sign test pooled over all the pairs, example by
    example: 1 for a, -1 for b, 0 while neither does at `alpha`."""
    wins = losses = 0
    for a, b in pairs:
        result = paired(a, b)
        wins, losses = wins + result.wins, losses + result.losses
    return 1 if sign_test(wins, losses) < alpha else -1 if sign_test(losses, wins) < alpha else 0


def accept(state: OptimizerState, winner: str) -> OptimizerState:
    """The winner of a race becomes the incumbent: the prompt the next steps build on."""
    return state.model_copy(update={"best_id": winner, "chain": [*state.chain, winner]})


def final_choice(state: OptimizerState) -> OptimizerState:
    """The guard on the result: the latest incumbent that beats the seed prompt in the paired test at ALPHA
    on the examples both were scored on, else the seed prompt. Incumbents after the first may have won at a
    looser level against each other; none is returned unless it is better than where the user started."""
    seed = state.seed.rewards
    for entry in reversed(state.chain[1:]):
        if paired(state.entries[entry].rewards, seed).significant(ALPHA):
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


def proposals_exhausted(history: list[StepRecord], patience: int) -> bool:
    """A model that cannot write instructions (small local ones answer the meta-prompt with chatter) is not
    asked again after `patience` steps without one usable proposal: its calls buy nothing. 0: always ask."""
    asked = [record for record in history if record.proposals]
    return bool(patience) and len(asked) >= patience and not any(record.proposals_kept for record in asked)


def _draw_balanced(
    predictions: list[Prediction],
    k: int,
    rng: random.Random,
    preferred: set[tuple[tuple[str, str], ...]] = frozenset(),  # type: ignore[assignment]
    frequency: Counter[str] | None = None,
    last_not: str | None = None,
) -> list[Prediction]:
    """k at random, the distinct expected answers taking turns (answers with a `preferred` example first, and
    within an answer the preferred examples first). With free-text answers (all distinct) this is a plain sample
    that prefers the preferred. In the prompt the rarest answers come first and the commonest last (ties in
    random order): a small model leans toward the answer of the last shot it read (Zhao et al. 2021, "Calibrate
    before use"), and that lean costs least when it is toward an answer the data often expects.
    `last_not` (None: commonest last): a random order that ends on neither the commonest answer nor `last_not`
    (the answer the leader's shots end on), the first condition dropped when both cannot hold, then the second.
    A small model may give one answer to every input, led by the last shots: every candidate of a run can fail
    alike that way (a two-answer task where each says "positive" to everything), and draws that end on another
    answer than the failing ones are the way out."""
    groups: dict[str, list[Prediction]] = {}
    for p in predictions:
        groups.setdefault(p.expected, []).append(p)
    for members in groups.values():
        rng.shuffle(members)
        members.sort(key=lambda p: inputs_key(p.inputs) in preferred)  # preferred last: popped first
    order = sorted(groups)
    rng.shuffle(order)
    order.sort(key=lambda answer: not any(inputs_key(p.inputs) in preferred for p in groups[answer]))
    drawn: list[Prediction] = []
    while len(drawn) < k and any(groups.values()):
        for answer in order:
            if groups[answer] and len(drawn) < k:
                drawn.append(groups[answer].pop())
    rng.shuffle(drawn)
    counts = frequency or Counter()
    if last_not is None:
        return sorted(drawn, key=lambda p: counts[p.expected])
    answers = sorted({p.expected for p in drawn})
    top = max(counts[a] for a in answers)
    uncommon = [a for a in answers if counts[a] < top]
    answer = rng.choice([a for a in uncommon if a != last_not] or [a for a in answers if a != last_not]
                        or uncommon or answers)
    last = next(p for p in drawn if p.expected == answer)
    return [*(p for p in drawn if p is not last), last]


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


def inputs_key(inputs: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """An example's identity: its input fields (shots and predictions are matched to examples by it)."""
    return tuple(sorted(inputs.items()))


def _norm(instructions: str) -> str:
    return " ".join(instructions.lower().split())
