"""The plan of a run before its first call: the budget of LM calls and how the search will spend it.

The budget is `optimizer.budget`: a number of LM calls, or a preset scaled to the validation pool (`pool`
examples, `modes` answer formats tried): light = pool x (1 + modes), medium = pool x (1.5 + 2 modes),
heavy = pool x (2 + 4 modes). The constant part pays for what every run needs whatever it searches (the seed
prompt and the leader scored on the whole pool); the rest grows with the formats searched. With a `judge`
reward every answer scored costs its judge's call too (one per judged field): a preset then buys the same
answers at (1 + judges) times the calls, and a number of calls buys 1 / (1 + judges) of the answers. The search stops
starting steps when the next one would not fit (its screening, its proposals and one promotion, on top of what
the end of the run needs), so a run makes about `budget` calls: fewer only when it runs out of new candidates
or passes (`epochs`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from ..spec import judge_rewards
from .racing import ETA, rung_sizes

if TYPE_CHECKING:
    from ..spec import ModelConfig, TaskSpec
    from .split import Split

PRESETS = {"light": (1.0, 1), "medium": (1.5, 2), "heavy": (2.0, 4)}  # pool x (fixed + per format x modes)


@dataclass(frozen=True)
class Plan:
    budget: int  # answers scored and instructions proposed the search may make (cached or not): its LM calls
    # when no judge grades the answers
    pool: int  # validation examples a prompt is scored on (all but its own shots)
    train: int  # labelled examples shots are drawn from
    held_out: bool  # the pool is a separate validation file
    modes: int  # answer formats tried (schema and prompt-stated, with `structured: auto`)
    minibatch: int  # examples every new candidate is screened on
    candidates_per_step: int  # screened per step: shot sets x modes, plus instruction proposals
    proposals_per_step: int  # calls to the optimizer model per step, while it writes usable instructions
    rungs: tuple[int, ...]  # cumulative examples per racing rung, the last being the whole pool
    steps: int  # expected steps (the race decides how many calls each one takes)
    judges: int = 0  # judge calls per answer scored (a `judge` reward, or one per judged field)
    call_budget: int = 0  # the LM calls the budget stands for: `budget` with every answer's judge calls added

    def in_calls(self, units: int) -> int:
        """LM calls for `units` answers scored (and judged) and proposals: the budget's own exchange rate."""
        return units * (1 + self.judges)

    @property
    def steps_per_pass(self) -> int:
        """Steps whose minibatches cover the pool once (`epochs` counts these passes)."""
        return max(1, math.ceil(self.pool / self.minibatch))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def first_step(self) -> int:
        """The smallest budget that starts a step: the seed prompt's whole pool (kept back for the end), the
        step's minibatch (twice with a held-out pool), its proposals and one promotion (`Trainer._can_step`)."""
        promotion = self.rungs[1] - self.rungs[0] if len(self.rungs) > 2 else 0
        return self.pool + (2 if self.held_out else 1) * self.minibatch + self.proposals_per_step + promotion

    def budget_text(self) -> str:
        """The budget as the user set it, in LM calls; with a judge, what it buys in answers."""
        if not self.judges:
            return f"{self.call_budget} LM calls"
        each = "its judge's call" if self.judges == 1 else f"{self.judges} judge calls"
        return f"{self.call_budget} LM calls (about {self.budget} answers and proposals, each answer with {each})"

    def describe(self) -> str:
        """One line, printed before the first call: what the budget buys."""
        pool = f"{self.pool} validation examples" + (" (--val)" if self.held_out else "")
        if self.budget < self.first_step:  # not "about 0 steps": say what the calls do go to
            return (f"plan: {self.budget_text()} are too few for a search step; the run scores the seed prompt on "
                    f"all {pool} ({self.in_calls(self.pool)} calls) and keeps it: a budget of "
                    f"{self.in_calls(self.first_step)} or more searches")
        return (f"plan: {self.budget_text()} over a pool of {pool}; each step screens up to "
                f"{self.candidates_per_step} candidates on {self.minibatch} examples, {self.race()}; "
                f"about {self.steps} steps, then the leaders' verification (a step of its own)")

    def race(self) -> str:
        """How the screened candidates earn more calls (successive halving, then the end-of-run verification)."""
        halving = ", ".join(str(size) for size in self.rungs[1:-1])
        share = {2: "half", 3: "third", 4: "quarter"}.get(ETA, f"1/{ETA}")
        return (f"the best {share} go on to {halving}, and the leaders to all {self.rungs[-1]}" if halving
                else f"the leaders go on to all {self.rungs[-1]}" if len(self.rungs) > 1 else "no racing")


def budget_calls(spec: TaskSpec, pool: int, modes: int, judges: int = 0) -> int:
    """`optimizer.budget` in LM calls: a number as given, a preset scaled to the pool, the formats and the judges."""
    budget = spec.optimizer.budget
    if isinstance(budget, int):
        return budget
    fixed, per_format = PRESETS[budget]
    return round(pool * (fixed + per_format * modes)) * (1 + judges)


def make_plan(spec: TaskSpec, split: Split, modes: int) -> Plan:
    settings = spec.optimizer
    pool = len(split.validation)
    minibatch = max(1, min(settings.batch_size, pool))
    judges = len(judge_rewards(spec.reward))
    calls = budget_calls(spec, pool, modes, judges)
    budget = calls // (1 + judges)  # proposals are priced as answers: a judged run spends a little under its calls
    per_step = settings.shot_sets * modes + settings.candidates
    # A typical step: the shot sets screened on the minibatch, the proposals asked for (proposed instructions
    # that cannot be parsed cost no screening), and the promotions: from each rung below the last, a third of
    # the candidates go on to ETA times as many examples. The leaders' verification on the whole pool is paid
    # once, at the end.
    screened = settings.shot_sets * modes
    rungs = rung_sizes(minibatch, pool)
    promotions = sum((rungs[i + 1] - rungs[i]) / ETA ** (i + 1) for i in range(len(rungs) - 2))
    typical = round(minibatch * screened + settings.candidates + screened * promotions)
    steps = max(1, round((budget - pool) / typical)) if budget > pool + minibatch else 0
    if settings.epochs is not None:
        steps = min(steps, settings.epochs * max(1, math.ceil(pool / minibatch)))
    return Plan(
        budget=budget,
        pool=pool,
        train=len(split.train),
        held_out=split.held_out,
        modes=modes,
        minibatch=minibatch,
        candidates_per_step=per_step,
        proposals_per_step=settings.candidates,
        rungs=tuple(rung_sizes(minibatch, pool)),
        steps=steps,
        judges=judges,
        call_budget=calls,
    )


@dataclass(frozen=True)
class Estimate:
    """What a run will consume, before it starts: calls from the plan, tokens by rendering typical prompts."""

    calls: int
    evaluation_calls: int
    proposal_calls: int
    prompt_tokens: int
    completion_tokens: int  # at most: every answer at the model's max_tokens
    cost: float | None  # None: litellm has no price for a model (local and unmapped models)
    judge_calls: int = 0  # one per answer scored and judged reward, inside `calls` and the tokens and cost

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TypicalCall:
    """One typical request of a kind (an answer, a proposal, a verdict), and how many the run will make."""

    model: ModelConfig
    messages: list[dict[str, str]]
    completion_tokens: int  # its reply at most (the model's max_tokens, else a default)
    count: int


def estimate(plan: Plan, spec: TaskSpec, typical_call: list[dict[str, str]], proposal_call: list[dict[str, str]],
             proposal_tokens: int, judge_calls: Sequence[TypicalCall] = ()) -> Estimate:
    """Tokens of a typical evaluation (the seed instructions with `k` shots and one input), of a typical proposal
    request and of each judge's verdict on a typical answer, times the calls the plan expects; priced with
    litellm's map where the models have prices."""
    proposals = min(plan.proposals_per_step * plan.steps, plan.budget // 4)
    evaluations = plan.budget - proposals
    calls = [TypicalCall(spec.model, typical_call, spec.model.max_tokens or 256, evaluations),
             TypicalCall(spec.proposer, proposal_call, spec.proposer.max_tokens or proposal_tokens, proposals),
             *(replace(judged, count=evaluations) for judged in judge_calls)]
    prompt = completion = 0
    cost: float | None = 0.0
    for call in calls:
        tokens, price = _priced(call)
        prompt, completion = prompt + tokens * call.count, completion + call.completion_tokens * call.count
        cost = None if cost is None or price is None else cost + price
    judged = evaluations * len(judge_calls)
    return Estimate(calls=evaluations + proposals + judged, evaluation_calls=evaluations, proposal_calls=proposals,
                    prompt_tokens=prompt, completion_tokens=completion, cost=cost, judge_calls=judged)


def _priced(call: TypicalCall) -> tuple[int, float | None]:
    """(prompt tokens of one such call, the price of all of them; None: a hosted model litellm has no price for)."""
    import litellm

    if not call.count:
        return 0, 0.0
    tokens = litellm.token_counter(model=call.model.name, messages=call.messages)
    try:
        return tokens, sum(litellm.cost_per_token(model=call.model.name, prompt_tokens=tokens * call.count,
                                                  completion_tokens=call.completion_tokens * call.count))
    except Exception:  # noqa: BLE001 - litellm raises various errors for models without a price
        return tokens, 0.0 if call.model.name.startswith("local/") else None
