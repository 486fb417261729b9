"""A step's candidates: new entries from shot sets, output modes and proposals; dropping the ones a step could not
screen; the output modes still worth trying; whether the optimizer model is still worth asking. Pure: no LM."""

from __future__ import annotations

from ..scoring.prompt import Prompt, Shot
from .racing import ALPHA, pooled_verdict
from .state import Entry, OptimizerState, StepRecord, norm_instructions


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
        if proposal is None or norm_instructions(proposal) in seen:
            continue
        seen.append(norm_instructions(proposal))
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
    gone = {norm_instructions(state.entries[name].prompt.instructions) for name in dropped
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
    verdict = pooled_verdict(pairs, alpha)  # structured over prompt-stated
    return modes if verdict == 0 else (verdict > 0,)


def proposals_exhausted(history: list[StepRecord], patience: int) -> bool:
    """A model that cannot write instructions (small local ones answer the meta-prompt with chatter) is not
    asked again after `patience` steps without one usable proposal: its calls buy nothing. 0: always ask."""
    asked = [record for record in history if record.proposals]
    return bool(patience) and len(asked) >= patience and not any(record.proposals_kept for record in asked)
