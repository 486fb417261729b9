"""The optimisation loop: FewShotOPRO steps with racing, within a planned budget of LM calls, a checkpoint
after every step and a clean stop on budget, Ctrl-C or a provider outage (the best prompt so far is kept).

Each step screens many candidates on a small minibatch and spends the larger evaluations only on the
promising ones (successive halving, `racing.py`); a challenger replaces the incumbent only when it wins a
paired test on the same examples. The final choice is re-scored on the whole validation pool.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import checkpoint
from .answers import AnswerFormat
from .data import Dataset, Example
from .errors import BudgetExhausted, InputError
from .scoring import TaskRunner, gather_all, output_modes
from .lm import LM
from .meta_prompt import meta_prompt, parse_proposal
from .optimizer import (
    OptimizerState,
    Prediction,
    accept,
    add_entries,
    draw_shot_sets,
    drop_unscreened,
    final_choice,
    initial_state,
    inputs_key,
    live_modes,
    live_shot_counts,
    longer_shots,
    observe,
    proposals_exhausted,
    record_step,
    shots_per_prompt,
    step_rng,
    with_rewards,
)
from .plan import Estimate, Plan, estimate, make_plan
from .prompt import Prompt, Shot, render_messages
from .racing import (
    acceptance_level,
    paired,
    promotion,
    prompt_order,
    rank_score,
    reached,
    screening_examples,
    settled,
    standing,
)
from .spec import TaskSpec

DEFAULT_PROPOSAL_TOKENS = 300


@dataclass
class Split:
    """`validation`: the pool prompts are scored on (never on their own shots). `train`: the labelled examples
    shots are drawn from. Without a validation file both come from the training file, so every labelled example
    sharpens the scores; with one (`held_out`), it stays a pure hold-out that never provides a shot."""

    train: list[Example]
    validation: list[Example]
    held_out: bool = False


def split_data(spec: TaskSpec, data: Dataset, validation: Dataset | None = None) -> Split:
    """The validation pool in the race's order (capped at `max_validation`), and the shot source."""
    settings = spec.optimizer
    if validation is not None:
        pool = race_order(list(validation.examples), settings.seed)
        return Split(list(data.examples), pool[: settings.max_validation], held_out=True)
    if len(data.examples) < 2:
        raise InputError(f"{data.path}: needs at least 2 examples")
    examples = race_order(list(data.examples), settings.seed)
    size = settings.validation_size
    wanted = len(examples) if size == "all" else round(len(examples) * size) if size < 1 else int(size)
    return Split(examples, examples[: max(1, min(wanted, settings.max_validation, len(examples)))])


def race_order(examples: list[Example], seed: int) -> list[Example]:
    """A seeded shuffle, then stratified by expected answer: each answer's examples spread evenly over the
    order, so every prefix the race scores prompts on has about the pool's mix of answers. A screening minibatch
    that happens to be mostly one label rewards a prompt that always gives that label; this takes the luck out.
    Free-text answers (all distinct) keep the shuffled order."""
    random.Random(f"{seed}:split").shuffle(examples)
    groups: dict[str, list[Example]] = {}
    for example in examples:
        groups.setdefault(example.expected, []).append(example)
    rank = {id(e): (n + 0.5) / len(members) for members in groups.values() for n, e in enumerate(members)}
    return sorted(examples, key=lambda e: rank[id(e)])


@dataclass
class Progress:
    """A snapshot for the live display; the trainer knows nothing of how it is drawn."""

    phase: str
    step: int
    total_steps: int
    epoch: int
    best_score: float | None = None
    seed_score: float | None = None
    batch_reward: float | None = None
    done: int = 0
    total: int = 0
    spent: int = 0
    budget: int = 0


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
    state: OptimizerState | None = None  # as of the last whole step: what checkpoints hold
    live: OptimizerState | None = None  # as of the last answer: what a stop in the middle of a step writes
    started_at: str = field(default_factory=lambda: _now())

    def __post_init__(self) -> None:
        self.plan: Plan = make_plan(self.spec, self.split, len(self.modes))
        answers = [e.expected for e in self.split.train]
        self.answer_counts = Counter(answers)  # fresh shots put the commonest answers last
        self.k = shots_per_prompt(self.spec.optimizer.k, answers)
        # A second shot count to try, for `auto`, with one answer format only: with two, every draw is already
        # screened twice, and pairs would leave one distinct draw a step (intent, 10 seeds: the mean fell).
        self.longer = longer_shots(self.spec.optimizer.k, answers) if len(self.modes) == 1 else None
        self._eligible_by_entry: dict[str, list[int]] = {}  # an entry's shots never change: computed once

    @property
    def lm(self) -> LM:
        return self.runner.lm

    @property
    def modes(self) -> tuple[bool, ...]:
        return output_modes(self.spec, self.runner.fmt)

    @property
    def total_steps(self) -> int:
        return max(self.plan.steps, self.state.step if self.state else 0)

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
        shots = tuple(Shot(inputs=e.inputs, answer=e.expected) for e in train[: self.longer or self.k])
        typical = Prompt(instructions=self.spec.prompt.instructions, shots=shots)
        call = render_messages(typical, train[-1].inputs, self.spec.prompt.input, self.runner.fmt)
        seed = initial_state(typical, self.modes[0]).seed
        exemplars = [_labelled(e) for e in train[: settings.meta_examples]]
        proposal = meta_prompt([seed], self.spec.description, self.spec.prompt.input, exemplars, settings.meta_prompt)
        return estimate(self.plan, self.spec, call, proposal, DEFAULT_PROPOSAL_TOKENS)

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
        while True:
            while self._can_step(self.state):
                self.state = self.live = await self._step(self.state)
                self.save_checkpoint()
                self._report("step done", self.state, (self.state.step - 1) // self.plan.steps_per_pass)
            verified = await self._verify(self.state)
            changed = verified.step > self.state.step
            self.state = self.live = verified
            self.save_checkpoint()
            if changed:
                self._report("step done", self.state, (self.state.step - 1) // self.plan.steps_per_pass)
            if not changed or not self._can_step(self.state):
                return

    def _can_step(self, state: OptimizerState) -> bool:
        """Another step needs one candidate's screening (and its proposals) on top of what the end of the run
        needs (`_reserve`); a search that keeps finding nothing new stops early."""
        settings, plan = self.spec.optimizer, self.plan
        if settings.epochs is not None and state.step >= settings.epochs * plan.steps_per_pass:
            return False
        if state.stalled >= 2:
            return False
        proposals = 0 if proposals_exhausted(state.history, settings.proposal_patience) else settings.candidates
        step_cost = (2 if self.split.held_out else 1) * plan.minibatch + proposals + self._promotion_cost()
        return state.spent + self._reserve(state) + step_cost <= plan.budget

    def _promotion_cost(self) -> int:
        """A candidate screened with nothing left to promote it is a wasted screening: a step keeps back one
        promotion to the next rung, so the best of its last candidates can still reach the end's verification."""
        rungs = self.plan.rungs
        return rungs[1] - rungs[0] if len(rungs) > 2 else 0

    def _reserve(self, state: OptimizerState) -> int:
        """Evaluations the end of the run still needs: the leader scored on the whole pool to challenge the
        incumbent, and the incumbent's own completion (for that paired test, or its final re-scoring), unless
        the leader already beats it clearly on the examples both were scored on."""
        leader = self._challenger(state)
        if leader is None:
            return self._completion(state, state.best_id)
        if self._beats_incumbent(state, leader):
            return self._completion(state, leader)
        return self._completion(state, leader) + self._completion(state, state.best_id)

    def _beats_incumbent(self, state: OptimizerState, name: str) -> bool:
        result = paired(state.entries[name].rewards, state.best.rewards)
        return result.significant(acceptance_level(state.best_id == state.seed_id, whole_pool=False))

    def _completion(self, state: OptimizerState, entry: str) -> int:
        """Evaluations an entry still needs to be scored on the whole pool (all but its own shots)."""
        return self._missing(state, entry, self._eligible(state, entry))

    def _challenger(self, state: OptimizerState, passed: frozenset[str] = frozenset()) -> str | None:
        """The best prompt, by the race's standing, that is not behind the incumbent on the examples both were
        scored on: the next to be scored on the whole pool. None: no prompt could replace the incumbent."""
        incumbent = state.entries[state.best_id].rewards
        for name in self._standing(state):
            if name != state.best_id and name not in passed and paired(state.entries[name].rewards, incumbent).diff > 0:
                return name
        return None

    async def _step(self, state: OptimizerState) -> OptimizerState:
        settings, plan = self.spec.optimizer, self.plan
        number = state.step + 1
        rng = step_rng(settings.seed, number)
        epoch = (number - 1) // plan.steps_per_pass

        # 1. The incumbent answers the first examples of the run's order; with a held-out pool it also answers
        #    training examples, whose correct answers become shots.
        self._report("running the minibatch", state, epoch, total=plan.minibatch)
        incumbent = state.best_id
        state, fresh = await self._evaluate(state, incumbent, self._eligible(state, incumbent)[: plan.minibatch])
        # The step's candidates are all screened on the first examples of the order that still tell prompts
        # apart (`racing.settled`), which are never drawn as shots; past screening they follow the run's order.
        first = screening_examples(len(self.split.validation), self._settled(state), plan.minibatch)
        screening = {inputs_key(self.split.validation[i].inputs) for i in first}
        if self.split.held_out:
            predictions = await self.runner.predict(state.best.prompt, self._train_batch(number), self._tick,
                                                    state.best.structured)
            state = observe(state.model_copy(update={"spent": state.spent + len(predictions)}), predictions, settings.k_best)
            fresh = predictions
        elif state.best.score > 0 and self._proven(state, screening) < self.k:
            # Shots come from correct answers first (examples the model already gets right teach it best), and
            # the screening minibatch never gives one: the incumbent answers the next examples of the order too
            # (which its paired tests need anyway).
            state, _ = await self._evaluate(state, incumbent, self._eligible(state, incumbent)[: 2 * plan.minibatch])

        # 2. Candidates around the leader: new shot sets (never from the screening minibatch), output modes,
        #    instruction proposals.
        leader = self._standing(state)[0]
        spares = [_labelled(e) for e in self.split.train if inputs_key(e.inputs) not in screening]
        counts = live_shot_counts(state, self.k, self.longer)
        shot_sets, from_predictions = draw_shot_sets(state, spares, settings.shot_sets, counts[0], rng, leader,
                                                     local=self._stands_out(state, leader),
                                                     frequency=self.answer_counts,
                                                     longer=counts[1] if len(counts) > 1 else None)
        exemplars = rng.sample(spares, min(settings.meta_examples, len(spares)))
        self._report("proposing instructions", state, epoch)
        proposals = await self._propose(state, exemplars)
        state = state.model_copy(update={"spent": state.spent + len(proposals)})
        state, candidates = add_entries(state, shot_sets, proposals, live_modes(state, self.modes), leader, first)

        # 3. Screen them, then score further whoever successive halving promotes. Screening first keeps back the
        #    calls of one promotion (`_promotion_cost`); what the promotions leave screens the rest.
        state, screened = await self._screen(state, candidates, epoch, keep=self._promotion_cost())
        state, promoted = await self._promote(state, epoch)
        state, rest = await self._screen(state, candidates[len(screened):], epoch, keep=0)
        if rest:
            state, more = await self._promote(state, epoch)
            promoted += [name for name in more if name not in promoted]
        unscreened = candidates[len(screened) + len(rest):]
        state = drop_unscreened(state, unscreened)
        for name in unscreened:
            self._eligible_by_entry.pop(name, None)
        candidates = screened + rest
        return record_step(
            state,
            epoch=epoch,
            batch_rewards=self._screening_rewards(state, incumbent),
            parse_failures=sum(1 for p in fresh if p.answer is None),
            candidates=candidates,
            promoted=promoted,
            accepted=None,
            shots_from_predictions=from_predictions,
            proposals=proposals,
        )

    async def _screen(self, state: OptimizerState, candidates: list[str], epoch: int,
                      keep: int) -> tuple[OptimizerState, list[str]]:
        """Screens the first candidates the budget allows, less what the end of the run needs and `keep`."""
        minibatch = self.plan.minibatch
        spare = self.plan.budget - state.spent - self._reserve(state) - keep
        candidates = candidates[: max(0, spare) // max(1, minibatch)]
        if candidates:
            self._report(f"screening {len(candidates)} candidates", state, epoch, total=len(candidates) * minibatch)
        for c in candidates:  # one prompt at a time: calls sharing a prefix run back to back (prefix caches)
            state, _ = await self._evaluate(state, c, self._eligible(state, c)[:minibatch])
        return state, candidates

    async def _promote(self, state: OptimizerState, epoch: int) -> tuple[OptimizerState, list[str]]:
        """Asynchronous successive halving over every prompt of the run (`racing.promotion`): at each rung the
        best third go on to three times as many examples (`racing.ETA`), while the budget (less what the end of the run needs)
        allows. The last rung, the whole pool, is left to the end (`_verify`): it goes to the best of them all."""
        promoted: list[str] = []
        while (move := promotion(*self._race_view(state), self.plan.rungs[:-1], state.best_id,
                                 settled=self._settled(state))) is not None:
            name, rung = move
            examples = self._eligible(state, name)[: self.plan.rungs[rung]]
            # The incumbent is scored beside it, so the race compares the two on the same examples, until a
            # challenger beats it clearly (its own completion is reserved anyway).
            allowed = set(self._eligible(state, state.best_id))
            beside = [] if self._beats_incumbent(state, name) else [i for i in examples if i in allowed]
            cost = self._missing(state, name, examples) + self._missing(state, state.best_id, beside)
            if state.spent + cost + self._reserve(state) > self.plan.budget:
                break
            self._report(f"racing on {len(examples)} examples", state, epoch, total=cost)
            state, _ = await self._evaluate(state, name, examples)
            state, _ = await self._evaluate(state, state.best_id, beside)
            promoted += [name] if name not in promoted else []
        return state, promoted

    async def _verify(self, state: OptimizerState) -> OptimizerState:
        """The leaders, best first, scored on the whole pool and tested against the incumbent, while the budget
        (less the incumbent's own completion) allows: a winner becomes the incumbent, the next one must beat it.
        The two leaders race first when the budget allows (`_race_leaders`). Recorded as a step of its own, whose
        candidates are the one the race passed over and the verified prompts."""
        epoch = (max(state.step, 1) - 1) // self.plan.steps_per_pass
        state, loser = await self._race_leaders(state, epoch)
        passed: set[str] = {loser} if loser is not None else set()
        verified, winner = [], None
        incumbent = state.best_id
        while (challenger := self._challenger(state, frozenset(passed))) is not None:
            passed.add(challenger)
            beside = 0 if self._beats_incumbent(state, challenger) else self._completion(state, state.best_id)
            if state.spent + self._completion(state, challenger) + beside > self.plan.budget:
                continue
            self._report("scoring the leader on the whole pool", state, epoch, total=self._completion(state, challenger))
            state, _ = await self._evaluate(state, challenger, self._eligible(state, challenger))
            state, won = await self._challenge(state, challenger, epoch)
            verified.append(challenger)
            if won:
                state, winner = accept(state, challenger), challenger
        if not verified:
            return state
        raced = [loser] if loser is not None else []  # shown with its scores after the race, not verified
        return record_step(state, epoch=epoch, batch_rewards=self._screening_rewards(state, incumbent),
                           parse_failures=0, candidates=[*raced, *verified], promoted=verified, accepted=winner,
                           shots_from_predictions=0, proposals=[], screened=False)

    async def _race_leaders(self, state: OptimizerState, epoch: int) -> tuple[OptimizerState, str | None]:
        """The leader and the runner-up of the last rung below the whole pool, scored on a minibatch of examples
        neither was scored on, when the budget pays for it beside the leader's verification. The leader was picked
        for its score on the examples both share, which flatters it there; on fresh examples neither is. Returns
        the one behind there (the runner-up on a tie), passed over by the verification; None: no race."""
        leader = self._challenger(state)
        runner_up = self._challenger(state, frozenset({leader})) if leader is not None else None
        last = len(self.plan.rungs) - 2
        if runner_up is None or last < 0 or {self._rung(state, leader), self._rung(state, runner_up)} != {last}:
            return state, None
        scored = state.entries[leader].rewards.keys() | state.entries[runner_up].rewards.keys()
        allowed = set(self._eligible(state, runner_up))
        fresh = [i for i in self._eligible(state, leader) if i in allowed and i not in scored][: self.plan.minibatch]
        both_clear = self._beats_incumbent(state, leader) and self._beats_incumbent(state, runner_up)
        beside = 0 if both_clear else self._completion(state, state.best_id)
        completion = max(self._completion(state, leader), self._completion(state, runner_up))
        if len(fresh) < self.plan.minibatch or state.spent + len(fresh) + completion + beside > self.plan.budget:
            return state, None
        self._report(f"racing the two leaders on {len(fresh)} new examples", state, epoch, total=2 * len(fresh))
        state, _ = await self._evaluate(state, leader, fresh)
        state, _ = await self._evaluate(state, runner_up, fresh)
        ahead = paired(state.entries[runner_up].rewards, state.entries[leader].rewards, fresh).diff > 0
        return state, leader if ahead else runner_up

    def _rung(self, state: OptimizerState, entry: str) -> int:
        """The highest rung an entry completed (-1: none)."""
        return reached(state.entries[entry].rewards, self._eligible(state, entry), self.plan.rungs)

    async def _challenge(self, state: OptimizerState, challenger: str, epoch: int) -> tuple[OptimizerState, bool]:
        """A paired sign test against the incumbent on the challenger's examples, more strictly against the seed
        prompt than against an earlier winner (`racing.acceptance_level`). The incumbent is scored only on what
        the test needs: rung by rung, a clear winner stops early, and so does a challenger that is not ahead."""
        incumbent = state.best_id
        if self._beats_incumbent(state, challenger):  # on what both were scored on already
            return state, True
        allowed = set(self._eligible(state, incumbent))
        shared = [i for i in self._eligible(state, challenger) if i in allowed]
        sizes = [size for size in self.plan.rungs if size < len(shared)] + [len(shared)]
        for n, size in enumerate(sizes):
            last = size == len(shared)
            if not last and all(i in state.entries[incumbent].rewards for i in shared[: sizes[n + 1]]):
                continue  # the incumbent is already scored further: test on all of it
            self._report(f"testing against the best on {size} examples", state, epoch)
            state, _ = await self._evaluate(state, incumbent, shared[:size])
            result = paired(state.entries[challenger].rewards, state.entries[incumbent].rewards, shared[:size])
            if result.significant(acceptance_level(incumbent == state.seed_id, whole_pool=last)):
                return state, True
            if last or result.diff <= 0:
                break
        return state, False

    def _stands_out(self, state: OptimizerState, leader: str) -> bool:
        """Whether the leader scored above the average candidate on its screening minibatch (settled examples left
        out, as in every ranking): only then is the search worth spending around it. When every candidate scores
        alike (say, each answers the same label to everything), a small change to one of them is a small change to
        a failure: fresh draws are better."""
        done = self._settled(state)

        def score(name: str) -> float:
            return rank_score(state.entries[name].rewards, self._screened_on(state, name), done)

        screened = [name for name, entry in state.entries.items()  # the candidates, not the seed prompt
                    if entry.origin not in ("seed", "mode")
                    and len(self._screened_on(state, name)) == self.plan.minibatch]
        if not screened or not self._screened_on(state, leader):
            return False
        return score(leader) > sum(score(name) for name in screened) / len(screened)

    def _screened_on(self, state: OptimizerState, entry: str) -> list[int]:
        """The examples of an entry's screening minibatch it was scored on so far."""
        rewards = state.entries[entry].rewards
        return [i for i in self._eligible(state, entry)[: self.plan.minibatch] if i in rewards]

    def _screening_rewards(self, state: OptimizerState, entry: str) -> list[float]:
        """An entry's rewards on the screening minibatch: the batch reward the history shows for a step."""
        rewards = state.entries[entry].rewards
        return [rewards[i] for i in self._screened_on(state, entry)]

    @staticmethod
    def _proven(state: OptimizerState, screening: set[tuple[tuple[str, str], ...]]) -> int:
        """Correct answers in the shot pool that are not screening examples: the shots drawn first."""
        return sum(1 for p in state.predictions if p.reward >= 1.0 and inputs_key(p.inputs) not in screening)

    @staticmethod
    def _settled(state: OptimizerState) -> frozenset[int]:
        """Pool examples the candidates so far all answered alike. Prompts that got nothing right have no say
        (nor has the seed prompt): one that cannot give the answer format disagrees with every other prompt on
        every example it gets right, which would keep examples open that tell no workable prompts apart."""
        return settled(e.rewards for e in state.entries.values()
                       if e.origin not in ("seed", "mode") and any(e.rewards.values()))

    def _race_view(self, state: OptimizerState) -> tuple[dict[str, dict[int, float]], dict[str, list[int]]]:
        """Every prompt's rewards, and the pool examples it may be scored on, in its order."""
        return ({name: entry.rewards for name, entry in state.entries.items()},
                {name: self._eligible(state, name) for name in state.entries})

    def _standing(self, state: OptimizerState) -> list[str]:
        return standing(*self._race_view(state), self.plan.rungs, self._settled(state))

    async def _finish(self) -> None:
        """Re-score the final choice on the whole pool, so its score and interval are over every example."""
        assert self.state is not None
        state = final_choice(self.state)
        self._report("scoring the best prompt on the whole pool", state, 0, total=self._completion(state, state.best_id))
        state, _ = await self._evaluate(state, state.best_id, self._eligible(state, state.best_id))
        self.state = state
        self.save_checkpoint()

    async def _evaluate(self, state: OptimizerState, entry: str, indices: list[int]) -> tuple[OptimizerState, list[Prediction]]:
        """Score one entry on the pool examples it was not scored on yet; its correct answers feed the shot
        pool (unless the pool is a held-out file, whose examples never become shots)."""
        todo = [i for i in indices if i not in state.entries[entry].rewards]
        if not todo:
            return state, []
        target = state.entries[entry]
        examples = [self.split.validation[i] for i in todo]
        predictions = await self.runner.predict(target.prompt, examples, self._tick, target.structured)
        state = with_rewards(state, entry, {i: p.reward for i, p in zip(todo, predictions)})
        if not self.split.held_out:
            state = observe(state, predictions, self.spec.optimizer.k_best)
        self.live = state
        return state, predictions

    def _eligible(self, state: OptimizerState, entry: str) -> list[int]:
        """Pool examples an entry may be scored on, in its order: all but its own shots, the examples it was
        screened on first."""
        if entry not in self._eligible_by_entry:
            target = state.entries[entry]
            shots = {inputs_key(s.inputs) for s in target.prompt.shots}
            self._eligible_by_entry[entry] = [i for i in prompt_order(len(self.split.validation), target.screening)
                                              if inputs_key(self.split.validation[i].inputs) not in shots]
        return self._eligible_by_entry[entry]

    @staticmethod
    def _missing(state: OptimizerState, entry: str, indices: list[int]) -> int:
        return sum(1 for i in indices if i not in state.entries[entry].rewards)

    def _train_batch(self, number: int) -> list[Example]:
        train, size = self.split.train, self.plan.minibatch
        start = ((number - 1) * size) % len(train)
        return [train[(start + j) % len(train)] for j in range(min(size, len(train)))]

    async def _propose(self, state: OptimizerState, exemplars: list[Prediction]) -> list[str | None]:
        settings = self.spec.optimizer
        if settings.candidates == 0 or proposals_exhausted(state.history, settings.proposal_patience):
            return []
        scored = [e for e in state.entries.values() if len(e.rewards) >= self.plan.minibatch]
        messages = meta_prompt(scored, self.spec.description, self.spec.prompt.input, exemplars, settings.meta_prompt)
        proposer = self.spec.proposer
        if proposer.max_tokens is None:
            proposer = proposer.model_copy(update={"max_tokens": DEFAULT_PROPOSAL_TOKENS})
        # One seed per proposal: distinct samples, and the same ones again on a re-run (cache hits).
        seeds = [settings.seed * 1_000_000 + (state.step + 1) * 1_000 + i for i in range(settings.candidates)]
        replies = await gather_all(
            self.lm.complete(proposer, messages, seed=seed, temperature=settings.proposal_temperature) for seed in seeds
        )
        return [parse_proposal(reply.text, settings.max_instruction_chars) for reply in replies]

    def save_checkpoint(self) -> None:
        if self.checkpoint_file is not None and self.state is not None:
            checkpoint.save(self.checkpoint_file, self.run_id, self.state, self.lm.usage, self.started_at)

    def _report(self, phase: str, state: OptimizerState, epoch: int, total: int = 0) -> None:
        self._progress = Progress(
            phase=phase,
            step=state.step,
            total_steps=self.total_steps,
            epoch=epoch,
            best_score=state.best.score if state.best.rewards else None,
            seed_score=state.seed.score if state.seed.rewards else None,
            batch_reward=state.history[-1].batch_reward if state.history else None,
            total=total,
            spent=state.spent,
            budget=self.plan.budget,
        )
        self.on_progress(self._progress)

    def _tick(self, _: Prediction) -> None:
        progress = getattr(self, "_progress", None)
        if progress is not None:
            progress.done += 1
            self.on_progress(progress)


def run_id(spec: TaskSpec, data: Dataset, validation: Dataset | None, fmt: AnswerFormat) -> str:
    """Identity of a run: same spec, data and seed give the same id (used by checkpoints and artifacts)."""
    payload = json.dumps(
        {
            "spec": spec.identity(),
            "data": data.sha256,
            "validation": validation.sha256 if validation else None,
            "format": fmt.__dict__,
        },
        sort_keys=True,
        default=list,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _labelled(example: Example) -> Prediction:
    """A labelled example in the shape shots are drawn from (no model answer: it fills in as a plain shot)."""
    return Prediction(inputs=example.inputs, expected=example.expected, raw="", answer=None, reward=0.0)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
