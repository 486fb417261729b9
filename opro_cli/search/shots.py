"""Few-shot sets for new candidates: how many shots a prompt gets, and drawing them (fresh draws spread over the
answers, correct predictions first; local steps around the leader). Pure: seeded randomness, no LM."""

from __future__ import annotations

import random
from collections import Counter

from ..scoring.prediction import Prediction, inputs_key
from ..scoring.prompt import Prompt, Shot
from .racing import ALPHA, pooled_verdict
from .state import OptimizerState


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
    verdict = pooled_verdict(pairs, alpha)
    return (k, longer) if verdict == 0 else (longer,) if verdict > 0 else (k,)


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
