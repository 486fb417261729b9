"""What every phase of a run shares: the task runner, the split and the plan, the state as of the last whole step
and as of the last answer, the progress snapshots, and the race's views of the state (standing, reserve, the
examples each prompt may be scored on). The phases (`step`, `screening`, `verification`) are functions of a
context and a state; the trainer (`trainer`) runs them in order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ..lm import LM
from ..progress import Progress
from ..scoring.prediction import Prediction, inputs_key
from ..scoring.runner import TaskRunner, output_modes
from ..spec import TaskSpec
from . import racing
from .plan import Plan, make_plan
from .racing import accepts, paired, prompt_order, rank_score, reached
from .shots import longer_shots, shots_per_prompt
from .split import Split
from .meta_prompt import keep_failures
from .state import OptimizerState, observe, with_rewards


@dataclass
class SearchContext:
    spec: TaskSpec
    runner: TaskRunner
    split: Split
    on_progress: Callable[[Progress], None] = lambda progress: None
    state: OptimizerState | None = None  # as of the last whole step: what checkpoints hold
    live: OptimizerState | None = None  # as of the last answer: what a stop in the middle of a step writes
    _progress: Progress | None = field(default=None, repr=False)

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

    def report(self, phase: str, state: OptimizerState, epoch: int, total: int = 0, note: str = "") -> None:
        leader = self.leader(state)
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
            judges=self.plan.judges,
            best_examples=len(state.best.rewards),
            leader_score=state.entries[leader].score if leader else None,
            leader_examples=len(state.entries[leader].rewards) if leader else 0,
            note=note,
        )
        self.on_progress(self._progress)

    def leader(self, state: OptimizerState) -> str | None:
        """The prompt the search would verify next (`challenger`), shown beside the best prompt: it may lead by
        far for steps before it is scored on the whole pool. None while no prompt is ahead of the best one."""
        return self.challenger(state) if len(state.entries) > 1 else None

    def tick(self, _: Prediction) -> None:
        progress = self._progress
        if progress is not None:
            progress.done += 1
            self.on_progress(progress)

    async def evaluate(self, state: OptimizerState, entry: str, indices: list[int]) -> tuple[OptimizerState, list[Prediction]]:
        """Score one entry on the pool examples it was not scored on yet; its correct answers feed the shot
        pool (unless the pool is a held-out file, whose examples never become shots)."""
        todo = [i for i in indices if i not in state.entries[entry].rewards]
        if not todo:
            return state, []
        target = state.entries[entry]
        examples = [self.split.validation[i] for i in todo]
        predictions = await self.runner.predict(target.prompt, examples, self.tick, target.structured)
        state = with_rewards(state, entry, {i: p.reward for i, p in zip(todo, predictions)})
        state = keep_failures(state, entry, predictions, self.spec.failures_shown)
        if not self.split.held_out:
            state = observe(state, predictions, self.spec.optimizer.k_best)
        self.live = state
        return state, predictions

    def eligible(self, state: OptimizerState, entry: str) -> list[int]:
        """Pool examples an entry may be scored on, in its order: all but its own shots, the examples it was
        screened on first."""
        if entry not in self._eligible_by_entry:
            target = state.entries[entry]
            shots = {inputs_key(s.inputs) for s in target.prompt.shots}
            self._eligible_by_entry[entry] = [i for i in prompt_order(len(self.split.validation), target.screening)
                                              if inputs_key(self.split.validation[i].inputs) not in shots]
        return self._eligible_by_entry[entry]

    def forget(self, names: list[str]) -> None:
        """Entries that left the state (`drop_unscreened`): their eligible examples are computed afresh if drawn again."""
        for name in names:
            self._eligible_by_entry.pop(name, None)

    @staticmethod
    def missing(state: OptimizerState, entry: str, indices: list[int]) -> int:
        return sum(1 for i in indices if i not in state.entries[entry].rewards)

    def promotion_cost(self) -> int:
        """A candidate screened with nothing left to promote it is a wasted screening: a step keeps back one
        promotion to the next rung, so the best of its last candidates can still reach the end's verification."""
        rungs = self.plan.rungs
        return rungs[1] - rungs[0] if len(rungs) > 2 else 0

    def reserve(self, state: OptimizerState) -> int:
        """Evaluations the end of the run still needs: the leader scored on the whole pool to challenge the
        incumbent, and the incumbent's own completion (for that paired test, or its final re-scoring), unless
        the leader already beats it clearly on the examples both were scored on."""
        leader = self.challenger(state)
        if leader is None:
            return self.completion(state, state.best_id)
        if self.beats_incumbent(state, leader):
            return self.completion(state, leader)
        return self.completion(state, leader) + self.completion(state, state.best_id)

    def beats_incumbent(self, state: OptimizerState, name: str) -> bool:
        result = paired(state.entries[name].rewards, state.best.rewards)
        return accepts(result, against_seed=state.best_id == state.seed_id, whole_pool=False)

    def completion(self, state: OptimizerState, entry: str) -> int:
        """Evaluations an entry still needs to be scored on the whole pool (all but its own shots)."""
        return self.missing(state, entry, self.eligible(state, entry))

    def challenger(self, state: OptimizerState, passed: frozenset[str] = frozenset()) -> str | None:
        """The best prompt, by the race's standing, that is not behind the incumbent on the examples both were
        scored on: the next to be scored on the whole pool. None: no prompt could replace the incumbent."""
        incumbent = state.entries[state.best_id].rewards
        for name in self.standing(state):
            if name != state.best_id and name not in passed and paired(state.entries[name].rewards, incumbent).diff > 0:
                return name
        return None

    def standing(self, state: OptimizerState) -> list[str]:
        return racing.standing(*self.race_view(state), self.plan.rungs, self.settled(state))

    def race_view(self, state: OptimizerState) -> tuple[dict[str, dict[int, float]], dict[str, list[int]]]:
        """Every prompt's rewards, and the pool examples it may be scored on, in its order."""
        return ({name: entry.rewards for name, entry in state.entries.items()},
                {name: self.eligible(state, name) for name in state.entries})

    @staticmethod
    def settled(state: OptimizerState) -> frozenset[int]:
        """Pool examples the candidates so far all answered alike. Prompts that got nothing right have no say
        (nor has the seed prompt): one that cannot give the answer format disagrees with every other prompt on
        every example it gets right, which would keep examples open that tell no workable prompts apart."""
        return racing.settled(e.rewards for e in state.entries.values()
                       if e.origin not in ("seed", "mode") and any(e.rewards.values()))

    def rung(self, state: OptimizerState, entry: str) -> int:
        """The highest rung an entry completed (-1: none)."""
        return reached(state.entries[entry].rewards, self.eligible(state, entry), self.plan.rungs)

    def stands_out(self, state: OptimizerState, leader: str) -> bool:
        """Whether the leader scored above the average candidate on its screening minibatch (settled examples left
        out, as in every ranking): only then is the search worth spending around it. When every candidate scores
        alike (say, each answers the same label to everything), a small change to one of them is a small change to
        a failure: fresh draws are better."""
        done = self.settled(state)

        def score(name: str) -> float:
            return rank_score(state.entries[name].rewards, self.screened_on(state, name), done)

        screened = [name for name, entry in state.entries.items()  # the candidates, not the seed prompt
                    if entry.origin not in ("seed", "mode")
                    and len(self.screened_on(state, name)) == self.plan.minibatch]
        if not screened or not self.screened_on(state, leader):
            return False
        return score(leader) > sum(score(name) for name in screened) / len(screened)

    def screened_on(self, state: OptimizerState, entry: str) -> list[int]:
        """The examples of an entry's screening minibatch it was scored on so far."""
        rewards = state.entries[entry].rewards
        return [i for i in self.eligible(state, entry)[: self.plan.minibatch] if i in rewards]

    def screening_rewards(self, state: OptimizerState, entry: str) -> list[float]:
        """An entry's rewards on the screening minibatch: the batch reward the history shows for a step."""
        rewards = state.entries[entry].rewards
        return [rewards[i] for i in self.screened_on(state, entry)]

    @staticmethod
    def proven(state: OptimizerState, screening: set[tuple[tuple[str, str], ...]]) -> int:
        """Correct answers in the shot pool that are not screening examples: the shots drawn first."""
        return sum(1 for p in state.predictions if p.reward >= 1.0 and inputs_key(p.inputs) not in screening)
