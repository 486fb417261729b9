"""One step of the search: the incumbent answers the step's minibatch, new candidates are drawn around the leader
(shot sets, output modes, instructions from the optimizer model), then screened and raced (`screening`)."""

from __future__ import annotations

from ..data import Example
from ..scoring.prediction import Prediction, inputs_key
from ..scoring.runner import gather_all
from .candidates import add_entries, drop_unscreened, live_modes, proposals_exhausted
from .context import SearchContext
from .meta_prompt import meta_prompt, parse_proposal, scoring_line
from .racing import screening_examples
from .screening import promote, screen
from .shots import draw_shot_sets, live_shot_counts
from .state import OptimizerState, observe, record_step, step_rng

DEFAULT_PROPOSAL_TOKENS = 300


async def step(ctx: SearchContext, state: OptimizerState) -> OptimizerState:
    """One step: the incumbent's minibatch, the step's candidates drawn, screened and promoted; the history record."""
    settings, plan = ctx.spec.optimizer, ctx.plan
    number = state.step + 1
    rng = step_rng(settings.seed, number)
    epoch = (number - 1) // plan.steps_per_pass

    # 1. The incumbent answers the first examples of the run's order; with a held-out pool it also answers
    #    training examples, whose correct answers become shots.
    ctx.report("running the minibatch", state, epoch, total=plan.minibatch)
    incumbent = state.best_id
    state, fresh = await ctx.evaluate(state, incumbent, ctx.eligible(state, incumbent)[: plan.minibatch])
    # The step's candidates are all screened on the first examples of the order that still tell prompts
    # apart (`racing.settled`), which are never drawn as shots; past screening they follow the run's order.
    first = screening_examples(len(ctx.split.validation), ctx.settled(state), plan.minibatch)
    screening = {inputs_key(ctx.split.validation[i].inputs) for i in first}
    if ctx.split.held_out:
        predictions = await ctx.runner.predict(state.best.prompt, train_batch(ctx, number), ctx.tick,
                                                state.best.structured)
        state = observe(state.model_copy(update={"spent": state.spent + len(predictions)}), predictions, settings.k_best)
        fresh = predictions
    elif state.best.score > 0 and ctx.proven(state, screening) < ctx.k:
        # Shots come from correct answers first (examples the model already gets right teach it best), and
        # the screening minibatch never gives one: the incumbent answers the next examples of the order too
        # (which its paired tests need anyway).
        state, _ = await ctx.evaluate(state, incumbent, ctx.eligible(state, incumbent)[: 2 * plan.minibatch])

    # 2. Candidates around the leader: new shot sets (never from the screening minibatch), output modes,
    #    instruction proposals.
    leader = ctx.standing(state)[0]
    spares = [labelled(e) for e in ctx.split.train if inputs_key(e.inputs) not in screening]
    counts = live_shot_counts(state, ctx.k, ctx.longer)
    shot_sets, from_predictions = draw_shot_sets(state, spares, settings.shot_sets, counts[0], rng, leader,
                                                 local=ctx.stands_out(state, leader),
                                                 frequency=ctx.answer_counts,
                                                 longer=counts[1] if len(counts) > 1 else None)
    exemplars = rng.sample(spares, min(settings.meta_examples, len(spares)))
    ctx.report("proposing instructions", state, epoch)
    proposals = await propose(ctx, state, exemplars)
    state = state.model_copy(update={"spent": state.spent + len(proposals)})
    state, candidates = add_entries(state, shot_sets, proposals, live_modes(state, ctx.modes), leader, first)

    # 3. Screen them, then score further whoever successive halving promotes. Screening first keeps back the
    #    calls of one promotion (`SearchContext.promotion_cost`); what the promotions leave screens the rest.
    state, screened = await screen(ctx, state, candidates, epoch, keep=ctx.promotion_cost())
    state, promoted = await promote(ctx, state, epoch)
    state, rest = await screen(ctx, state, candidates[len(screened):], epoch, keep=0)
    if rest:
        state, more = await promote(ctx, state, epoch)
        promoted += [name for name in more if name not in promoted]
    unscreened = candidates[len(screened) + len(rest):]
    state = drop_unscreened(state, unscreened)
    ctx.forget(unscreened)
    candidates = screened + rest
    return record_step(
        state,
        epoch=epoch,
        batch_rewards=ctx.screening_rewards(state, incumbent),
        parse_failures=sum(1 for p in fresh if p.answer is None),
        candidates=candidates,
        promoted=promoted,
        accepted=None,
        shots_from_predictions=from_predictions,
        proposals=proposals,
    )


def train_batch(ctx: SearchContext, number: int) -> list[Example]:
    train, size = ctx.split.train, ctx.plan.minibatch
    start = ((number - 1) * size) % len(train)
    return [train[(start + j) % len(train)] for j in range(min(size, len(train)))]


async def propose(ctx: SearchContext, state: OptimizerState, exemplars: list[Prediction]) -> list[str | None]:
    settings = ctx.spec.optimizer
    if settings.candidates == 0 or proposals_exhausted(state.history, settings.proposal_patience):
        return []
    scored = [e for e in state.entries.values() if len(e.rewards) >= ctx.plan.minibatch]
    messages = meta_prompt(scored, ctx.spec.description, ctx.spec.prompt.input, exemplars, settings.meta_prompt,
                           scoring_line(ctx.spec), state.best.failures)
    proposer = ctx.spec.proposer
    if proposer.max_tokens is None:
        proposer = proposer.model_copy(update={"max_tokens": DEFAULT_PROPOSAL_TOKENS})
    # One seed per proposal: distinct samples, and the same ones again on a re-run (cache hits).
    seeds = [settings.seed * 1_000_000 + (state.step + 1) * 1_000 + i for i in range(settings.candidates)]
    replies = await gather_all(
        ctx.lm.complete(proposer, messages, seed=seed, temperature=settings.proposal_temperature) for seed in seeds
    )
    return [parse_proposal(reply.text, settings.max_instruction_chars) for reply in replies]


def labelled(example: Example) -> Prediction:
    """A labelled example in the shape shots are drawn from (no model answer: it fills in as a plain shot)."""
    return Prediction(inputs=example.inputs, expected=example.expected, raw="", answer=None, reward=0.0)
