"""The optimisation loop: FewShotOPRO steps with racing, within a planned budget of LM calls, a checkpoint
after every step and a clean stop on budget, Ctrl-C or a provider outage (the best prompt so far is kept).

Each step (`step`) screens many candidates on a small minibatch and spends the larger evaluations only on the
promising ones (successive halving, `screening` and `racing`); a challenger replaces the incumbent only when it
wins a paired test on the same examples (`verification`). The final choice is re-scored on the whole validation
pool. What the phases share lives in a `SearchContext`; the trainer only runs them in order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..data import Dataset
from ..errors import BudgetExhausted, InputError
from ..lm import LM
from ..progress import Progress
from ..scoring.answers import AnswerFormat
from ..scoring.prompt import Prompt, Shot, render_messages
from ..scoring.runner import TaskRunner
from ..scoring.judge import DEFAULT_JUDGE_TOKENS
from ..spec import TaskSpec, judge_rewards
from . import checkpoint
from .candidates import proposals_exhausted
from .context import SearchContext
from .meta_prompt import meta_prompt, scoring_line
from .plan import Estimate, Plan, TypicalCall, estimate
from .racing import paired
from .split import Split
from .state import OptimizerState, final_choice, initial_state
from .step import DEFAULT_PROPOSAL_TOKENS, labelled, step
from .verification import verify


@dataclass
class RunResult:
    state: OptimizerState
    stopped: str  # completed | budget | interrupted | provider
    message: str = ""
    started_at: str = ""
    finished_at: str = ""


@dataclass
class Trainer:
    spec: TaskSpec
    runner: TaskRunner
    split: Split
    run_id: str
    checkpoint_file: Path | None = None
    on_progress: Callable[[Progress], None] = lambda progress: None
    started_at: str = field(default_factory=lambda: _now())

    def __post_init__(self) -> None:
        self.context = SearchContext(self.spec, self.runner, self.split, self.on_progress)

    @property
    def state(self) -> OptimizerState | None:
        """As of the last whole step: what checkpoints hold."""
        return self.context.state

    @state.setter
    def state(self, value: OptimizerState | None) -> None:
        self.context.state = value

    @property
    def live(self) -> OptimizerState | None:
        """As of the last answer: what a stop in the middle of a step writes."""
        return self.context.live

    @live.setter
    def live(self, value: OptimizerState | None) -> None:
        self.context.live = value

    @property
    def plan(self) -> Plan:
        return self.context.plan

    @property
    def lm(self) -> LM:
        return self.runner.lm

    @property
    def modes(self) -> tuple[bool, ...]:
        return self.context.modes

    @property
    def total_steps(self) -> int:
        return self.context.total_steps

    async def run(self, resume: bool = False) -> RunResult:
        """Optimise until the budget is spent; `--max-calls`/`--max-cost` stop cleanly. Other errors propagate
        after the checkpoint."""
        try:
            self._start(resume)
            await self._train()
            await self._finish()
        except BudgetExhausted as exc:
            live = self.best_so_far()
            if live is None:  # nothing scored: not a success
                raise InputError(
                    f"{exc} before the seed prompt was scored on its first {self.plan.minibatch} examples; nothing written"
                ) from None
            self.save_checkpoint()  # the last whole step, with the usage of the unfinished one
            return RunResult(live, "budget", str(exc), self.started_at, _now())
        assert self.state is not None
        return RunResult(self.state, "completed", "", self.started_at, _now())

    def estimate(self) -> Estimate:
        """Calls and tokens the run will take, from typical prompts (the seed instructions with `k` training
        examples as shots, and the meta-prompt): nothing is called, nothing written."""
        settings, train = self.spec.optimizer, self.split.train
        shots = tuple(Shot(inputs=e.inputs, answer=e.expected) for e in train[: self.context.longer or self.context.k])
        typical = Prompt(instructions=self.spec.prompt.instructions, shots=shots)
        call = render_messages(typical, train[-1].inputs, self.spec.prompt.input, self.runner.fmt)
        seed = initial_state(typical, self.modes[0]).seed
        exemplars = [labelled(e) for e in train[: settings.meta_examples]]
        failures = [labelled(e) for e in train[: self.spec.failures_shown]]  # about their size: inputs, expected
        proposal = meta_prompt([seed], self.spec.description, self.spec.prompt.input, exemplars, settings.meta_prompt,
                               scoring_line(self.spec), failures)
        example = train[-1]
        expected = self.runner.fmt.expected_text(example.expected)  # a typical answer is about its size
        verdicts = [self.runner.judge.request(reward, example.inputs, expected, expected)
                    for reward in judge_rewards(self.spec.reward)]
        judged = [TypicalCall(v.model, v.messages, v.model.max_tokens or DEFAULT_JUDGE_TOKENS, 0) for v in verdicts]
        return estimate(self.plan, self.spec, call, proposal, DEFAULT_PROPOSAL_TOKENS, judged)

    def best_so_far(self) -> OptimizerState | None:
        """The state to write when a run stops early: as of the last answer, None if nothing was scored yet."""
        state = self.live or self.state
        return state if state is not None and state.seed.rewards else None

    def _start(self, resume: bool) -> None:
        saved = checkpoint.load(self.checkpoint_file, self.run_id) if resume and self.checkpoint_file else None
        if saved is not None:
            self.state = saved.state
            self.started_at = saved.started_at
            for name, value in saved.usage.items():
                setattr(self.lm.usage, name, type(getattr(self.lm.usage, name))(value))
            return
        self.state = initial_state(Prompt(instructions=self.spec.prompt.instructions), self.modes[0])

    async def _train(self) -> None:
        """Steps while the budget, less what the end needs, allows; then the leaders are verified on the whole
        pool. A verification that replaces the seed prompt frees its reserve, which buys more steps."""
        assert self.state is not None
        past_plan = (f"past the plan's about {self.plan.steps} steps: the steps so far cost less than a typical one, "
                     f"and the budget pays for this one")
        while True:
            while self._can_step(self.state):
                self.state = self.live = await step(self.context, self.state)
                self.save_checkpoint()
                self._report_step(past_plan if self.state.step > self.plan.steps else "")
            before = self.state
            self.state = self.live = await verify(self.context, before)
            self.save_checkpoint()
            if self.state.step == before.step:  # nothing verified: not a step
                return
            more, note = self._can_step(self.state), verdict(before, self.state)
            if more:  # the plan did not count on these steps: say why they come
                spare = self.plan.budget - self.state.spent - self.context.reserve(self.state)
                won = self.state.best_id != before.best_id
                freed = "its win freed the calls kept back for the end: " if won else ""
                note += f"; {freed}{spare} calls are left for more steps"
                past_plan = (f"past the plan's about {self.plan.steps} steps: the verification at step "
                             f"{self.state.step} left {spare} calls for more")
            self._report_step(note)
            if not more:
                return

    def _report_step(self, note: str) -> None:
        """A step done, for the live view; `note` says why the step count went past the plan, or what a
        verification decided."""
        assert self.state is not None
        self.context.report("step done", self.state, (self.state.step - 1) // self.plan.steps_per_pass, note=note)

    def _can_step(self, state: OptimizerState) -> bool:
        """Another step needs one candidate's screening (and its proposals) on top of what the end of the run
        needs (`SearchContext.reserve`); a search that keeps finding nothing new stops early."""
        settings, plan = self.spec.optimizer, self.plan
        if settings.epochs is not None and state.step >= settings.epochs * plan.steps_per_pass:
            return False
        if state.stalled >= 2:
            return False
        proposals = 0 if proposals_exhausted(state.history, settings.proposal_patience) else settings.candidates
        step_cost = (2 if self.split.held_out else 1) * plan.minibatch + proposals + self.context.promotion_cost()
        return state.spent + self.context.reserve(state) + step_cost <= plan.budget

    async def _finish(self) -> None:
        """Re-score the final choice on the whole pool, so its score and interval are over every example."""
        assert self.state is not None
        state = final_choice(self.state)
        self.context.report("scoring the best prompt on the whole pool", state, 0, total=self.context.completion(state, state.best_id))
        state, _ = await self.context.evaluate(state, state.best_id, self.context.eligible(state, state.best_id))
        self.state = state
        self.save_checkpoint()

    def save_checkpoint(self) -> None:
        if self.checkpoint_file is not None and self.state is not None:
            checkpoint.save(self.checkpoint_file, self.run_id, self.state, self.lm.usage, self.started_at)


def verdict(before: OptimizerState, after: OptimizerState) -> str:
    """What a verification (a step of its own) decided, for the live view: the plan counts search steps only."""
    if after.best_id == before.best_id:
        return "verification: no leader beat the best prompt on the whole pool"
    result = paired(after.best.rewards, before.best.rewards)
    beaten = "the seed prompt" if before.best_id == before.seed_id else "the best prompt"
    return (f"verification: the leader beat {beaten} on the whole pool (+{result.wins} / -{result.losses} "
            f"examples) and is now the best")


def format_identity(fmt: AnswerFormat) -> dict[str, object]:
    """The answer format as the run's identity holds it; an answer of one field as it was before several fields
    existed, so its runs keep their ids (and checkpoints written then still resume)."""
    identity = {key: value for key, value in fmt.__dict__.items() if key != "outputs"}
    if fmt.outputs:
        identity["outputs"] = [[field.name, field.type, list(field.choices)] for field in fmt.outputs]
    return identity


def run_id(spec: TaskSpec, data: Dataset, validation: Dataset | None, fmt: AnswerFormat) -> str:
    """Identity of a run: same spec, data and seed give the same id (used by checkpoints and artifacts)."""
    payload = json.dumps(
        {
            "spec": spec.identity(),
            "data": data.sha256,
            "validation": validation.sha256 if validation else None,
            "format": format_identity(fmt),
        },
        sort_keys=True,
        default=list,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
