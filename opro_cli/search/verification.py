"""The end of the search: the two leaders race on fresh examples, then the leaders, best first, are scored on the
whole pool and tested against the incumbent (a paired test, stricter against the seed prompt)."""

from __future__ import annotations

from .context import SearchContext
from .racing import accepts, paired
from .state import OptimizerState, accept, record_step


async def verify(ctx: SearchContext, state: OptimizerState) -> OptimizerState:
    """The leaders, best first, scored on the whole pool and tested against the incumbent, while the budget
    (less the incumbent's own completion) allows: a winner becomes the incumbent, the next one must beat it.
    The two leaders race first when the budget allows (`_race_leaders`). Recorded as a step of its own, whose
    candidates are the one the race passed over and the verified prompts."""
    epoch = (max(state.step, 1) - 1) // ctx.plan.steps_per_pass
    state, loser = await race_leaders(ctx, state, epoch)
    passed: set[str] = {loser} if loser is not None else set()
    verified, winner = [], None
    incumbent = state.best_id
    while (challenger := ctx.challenger(state, frozenset(passed))) is not None:
        passed.add(challenger)
        beside = 0 if ctx.beats_incumbent(state, challenger) else ctx.completion(state, state.best_id)
        if state.spent + ctx.completion(state, challenger) + beside > ctx.plan.budget:
            continue
        ctx.report("scoring the leader on the whole pool", state, epoch, total=ctx.completion(state, challenger))
        state, _ = await ctx.evaluate(state, challenger, ctx.eligible(state, challenger))
        state, won = await challenge(ctx, state, challenger, epoch)
        verified.append(challenger)
        if won:
            state, winner = accept(state, challenger), challenger
    if not verified:
        return state
    raced = [loser] if loser is not None else []  # shown with its scores after the race, not verified
    return record_step(state, epoch=epoch, batch_rewards=ctx.screening_rewards(state, incumbent),
                       parse_failures=0, candidates=[*raced, *verified], promoted=verified, accepted=winner,
                       shots_from_predictions=0, proposals=[], screened=False)


async def race_leaders(ctx: SearchContext, state: OptimizerState, epoch: int) -> tuple[OptimizerState, str | None]:
    """The leader and the runner-up of the last rung below the whole pool, scored on a minibatch of examples
    neither was scored on, when the budget pays for it beside the leader's verification. The leader was picked
    for its score on the examples both share, which flatters it there; on fresh examples neither is. Returns
    the one behind there (the runner-up on a tie), passed over by the verification; None: no race."""
    leader = ctx.challenger(state)
    runner_up = ctx.challenger(state, frozenset({leader})) if leader is not None else None
    last = len(ctx.plan.rungs) - 2
    if runner_up is None or last < 0 or {ctx.rung(state, leader), ctx.rung(state, runner_up)} != {last}:
        return state, None
    scored = state.entries[leader].rewards.keys() | state.entries[runner_up].rewards.keys()
    allowed = set(ctx.eligible(state, runner_up))
    fresh = [i for i in ctx.eligible(state, leader) if i in allowed and i not in scored][: ctx.plan.minibatch]
    both_clear = ctx.beats_incumbent(state, leader) and ctx.beats_incumbent(state, runner_up)
    beside = 0 if both_clear else ctx.completion(state, state.best_id)
    completion = max(ctx.completion(state, leader), ctx.completion(state, runner_up))
    if len(fresh) < ctx.plan.minibatch or state.spent + len(fresh) + completion + beside > ctx.plan.budget:
        return state, None
    ctx.report(f"racing the two leaders on {len(fresh)} new examples", state, epoch, total=2 * len(fresh))
    state, _ = await ctx.evaluate(state, leader, fresh)
    state, _ = await ctx.evaluate(state, runner_up, fresh)
    ahead = paired(state.entries[runner_up].rewards, state.entries[leader].rewards, fresh).diff > 0
    return state, leader if ahead else runner_up


async def challenge(ctx: SearchContext, state: OptimizerState, challenger: str, epoch: int) -> tuple[OptimizerState, bool]:
    """A paired sign test against the incumbent on the challenger's examples, more strictly against the seed
    prompt than against an earlier winner (`racing.accepts`). The incumbent is scored only on what
    the test needs: rung by rung, a clear winner stops early, and so does a challenger that is not ahead."""
    incumbent = state.best_id
    if ctx.beats_incumbent(state, challenger):  # on what both were scored on already
        return state, True
    allowed = set(ctx.eligible(state, incumbent))
    shared = [i for i in ctx.eligible(state, challenger) if i in allowed]
    sizes = [size for size in ctx.plan.rungs if size < len(shared)] + [len(shared)]
    for n, size in enumerate(sizes):
        last = size == len(shared)
        if not last and all(i in state.entries[incumbent].rewards for i in shared[: sizes[n + 1]]):
            continue  # the incumbent is already scored further: test on all of it
        ctx.report(f"testing against the best on {size} examples", state, epoch)
        state, _ = await ctx.evaluate(state, incumbent, shared[:size])
        result = paired(state.entries[challenger].rewards, state.entries[incumbent].rewards, shared[:size])
        if accepts(result, against_seed=incumbent == state.seed_id, whole_pool=last):
            return state, True
        if last or result.diff <= 0:
            break
    return state, False
