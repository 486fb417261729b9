"""Screening and promotion: each new candidate answers a small minibatch, then asynchronous successive halving
sends the best on to more examples, the incumbent scored beside them, while the budget allows."""

from __future__ import annotations

from .context import SearchContext
from .racing import promotion
from .state import OptimizerState


async def screen(ctx: SearchContext, state: OptimizerState, candidates: list[str], epoch: int,
                  keep: int) -> tuple[OptimizerState, list[str]]:
    """Screens the first candidates the budget allows, less what the end of the run needs and `keep`."""
    minibatch = ctx.plan.minibatch
    spare = ctx.plan.budget - state.spent - ctx.reserve(state) - keep
    candidates = candidates[: max(0, spare) // max(1, minibatch)]
    if candidates:
        ctx.report(f"screening {len(candidates)} candidates", state, epoch, total=len(candidates) * minibatch)
    for c in candidates:  # one prompt at a time: calls sharing a prefix run back to back (prefix caches)
        state, _ = await ctx.evaluate(state, c, ctx.eligible(state, c)[:minibatch])
    return state, candidates


async def promote(ctx: SearchContext, state: OptimizerState, epoch: int) -> tuple[OptimizerState, list[str]]:
    """Asynchronous successive halving over every prompt of the run (`racing.promotion`): at each rung the
    best third go on to three times as many examples (`racing.ETA`), while the budget (less what the end of the run needs)
    allows. The last rung, the whole pool, is left to the end (`_verify`): it goes to the best of them all."""
    promoted: list[str] = []
    while (move := promotion(*ctx.race_view(state), ctx.plan.rungs[:-1], state.best_id,
                             settled=ctx.settled(state))) is not None:
        name, rung = move
        examples = ctx.eligible(state, name)[: ctx.plan.rungs[rung]]
        # The incumbent is scored beside it, so the race compares the two on the same examples, until a
        # challenger beats it clearly (its own completion is reserved anyway).
        allowed = set(ctx.eligible(state, state.best_id))
        beside = [] if ctx.beats_incumbent(state, name) else [i for i in examples if i in allowed]
        cost = ctx.missing(state, name, examples) + ctx.missing(state, state.best_id, beside)
        if state.spent + cost + ctx.reserve(state) > ctx.plan.budget:
            break
        ctx.report(f"racing on {len(examples)} examples", state, epoch, total=cost)
        state, _ = await ctx.evaluate(state, name, examples)
        state, _ = await ctx.evaluate(state, state.best_id, beside)
        promoted += [name] if name not in promoted else []
    return state, promoted
