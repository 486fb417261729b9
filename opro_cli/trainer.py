"""The optimisation loop: split data, score the seed prompt, then one FewShotOPRO step per training batch,
with candidates scored on a fixed validation subset, a checkpoint after every step and a clean stop on
budget, Ctrl-C or a provider outage (the best prompt so far is always kept)."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import checkpoint
from .answers import AnswerFormat
from .data import Dataset, Example
from .errors import BudgetExhausted, InputError
from .scoring import TaskRunner, gather_all, mean_reward, output_modes
from .lm import LM
from .meta_prompt import meta_prompt, parse_proposal
from .optimizer import (
    Candidate,
    OptimizerState,
    Prediction,
    candidate_prompts,
    initial_state,
    observe_batch,
    proposals_exhausted,
    record_scores,
    step_rng,
)
from .prompt import Prompt
from .spec import TaskSpec

DEFAULT_PROPOSAL_TOKENS = 300


@dataclass
class Split:
    train: list[Example]
    validation: list[Example]


def split_data(spec: TaskSpec, data: Dataset, validation: Dataset | None = None) -> Split:
    """A seeded, fixed validation subset held out of the training file (or the file the user gives)."""
    if validation is not None:
        return Split(list(data.examples), list(validation.examples)[: spec.optimizer.max_validation])
    examples = list(data.examples)
    random.Random(f"{spec.optimizer.seed}:split").shuffle(examples)
    size = spec.optimizer.validation_size
    wanted = round(len(examples) * size) if size < 1 else int(size)
    count = max(1, min(wanted, spec.optimizer.max_validation, len(examples) - 1))
    if len(examples) < 2:
        raise InputError(f"{data.path}: needs at least 2 examples (training and validation)")
    return Split(examples[count:], examples[:count])


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
    state: OptimizerState | None = None
    started_at: str = field(default_factory=lambda: _now())

    @property
    def lm(self) -> LM:
        return self.runner.lm

    @property
    def modes(self) -> tuple[bool, ...]:
        return output_modes(self.spec, self.runner.fmt)

    @property
    def total_steps(self) -> int:
        batches = -(-len(self.split.train) // self.spec.optimizer.batch_size)
        return batches * self.spec.optimizer.epochs

    async def run(self, resume: bool = False) -> RunResult:
        """Optimise until done; budget exhaustion stops cleanly. Other errors propagate after the checkpoint."""
        try:
            await self._start(resume)
            await self._train()
        except BudgetExhausted as exc:
            if self.state is None:  # nothing scored, nothing to write: not a success
                raise InputError(
                    f"{exc} before the seed prompt was scored (that takes {len(self.split.validation)} calls); "
                    "nothing written"
                ) from None
            self.save_checkpoint()  # the usage of the unfinished step counts too
            return RunResult(self.state, "budget", str(exc), self.started_at, _now())
        assert self.state is not None
        return RunResult(self.state, "completed", "", self.started_at, _now())

    async def _start(self, resume: bool) -> None:
        saved = checkpoint.load(self.checkpoint_file, self.run_id) if resume and self.checkpoint_file else None
        if saved is not None:
            self.state = saved.state
            self.started_at = saved.started_at
            for name, value in saved.usage.items():
                setattr(self.lm.usage, name, type(getattr(self.lm.usage, name))(value))
            return
        seed_prompt = Prompt(instructions=self.spec.prompt.instructions)
        seeds = []
        for mode in self.modes:
            self._report("scoring the seed prompt", total=len(self.split.validation))
            score = await self._validate(seed_prompt, mode)
            seeds.append(Candidate(prompt=seed_prompt, score=score, step=0, structured=mode))
        self.state = initial_state(seeds)
        self.save_checkpoint()

    async def _train(self) -> None:
        settings = self.spec.optimizer
        step = 0
        for epoch in range(settings.epochs):
            order = list(self.split.train)
            random.Random(f"{settings.seed}:epoch:{epoch}").shuffle(order)
            for start in range(0, len(order), settings.batch_size):
                step += 1
                assert self.state is not None
                if step <= self.state.step:
                    continue  # done before the checkpoint we resumed from
                await self._step(epoch, order[start : start + settings.batch_size])
                self.save_checkpoint()

    async def _step(self, epoch: int, batch: list[Example]) -> None:
        assert self.state is not None
        settings = self.spec.optimizer
        rng = step_rng(settings.seed, self.state.step + 1)
        self._report("running the batch", epoch=epoch, total=len(batch))
        best = self.state.best
        predictions = await self.runner.predict(best.prompt, batch, self._tick, best.structured)
        state, shots, from_predictions = observe_batch(self.state, predictions, settings, rng)
        exemplars = rng.sample(predictions, min(settings.meta_examples, len(predictions)))
        self._report("proposing instructions", epoch=epoch, batch_reward=mean_reward(predictions))
        proposals = await self._propose(state, exemplars)
        state, pairs = candidate_prompts(state, proposals, shots, self.modes)
        self._report("scoring candidates", epoch=epoch, total=len(pairs) * len(self.split.validation))
        # One prompt at a time (its examples still run concurrently): calls sharing a prefix run back to
        # back, which is what prefix caches (llama.cpp's KV cache, hosted prompt caches) reward.
        scored = [
            Candidate(prompt=prompt, score=await self._validate(prompt, mode), step=state.step + 1, structured=mode)
            for prompt, mode in pairs
        ]
        self.state = record_scores(
            state,
            scored,
            epoch=epoch,
            batch=predictions,
            shots_from_predictions=from_predictions,
            proposals=proposals,
            k_best=settings.k_best,
        )
        self._report("step done", epoch=epoch, batch_reward=mean_reward(predictions))

    async def _propose(self, state: OptimizerState, exemplars: list[Prediction]) -> list[str | None]:
        settings = self.spec.optimizer
        if settings.candidates == 0 or proposals_exhausted(state.history, settings.proposal_patience):
            return []
        messages = meta_prompt(
            state.candidates, self.spec.description, self.spec.prompt.input, exemplars, settings.meta_prompt
        )
        proposer = self.spec.proposer
        if proposer.max_tokens is None:
            proposer = proposer.model_copy(update={"max_tokens": DEFAULT_PROPOSAL_TOKENS})
        # One seed per proposal: distinct samples, and the same ones again on a re-run (cache hits).
        seeds = [settings.seed * 1_000_000 + (state.step + 1) * 1_000 + i for i in range(settings.candidates)]
        replies = await gather_all(
            self.lm.complete(proposer, messages, seed=seed, temperature=settings.proposal_temperature) for seed in seeds
        )
        return [parse_proposal(reply.text, settings.max_instruction_chars) for reply in replies]

    async def _validate(self, prompt: Prompt, structured: bool) -> float:
        return mean_reward(await self.runner.predict(prompt, self.split.validation, self._tick, structured))

    def save_checkpoint(self) -> None:
        if self.checkpoint_file is not None and self.state is not None:
            checkpoint.save(self.checkpoint_file, self.run_id, self.state, self.lm.usage, self.started_at)

    def _report(self, phase: str, epoch: int = 0, batch_reward: float | None = None, total: int = 0) -> None:
        self._progress = Progress(
            phase=phase,
            step=self.state.step if self.state else 0,
            total_steps=self.total_steps,
            epoch=epoch,
            best_score=self.state.best.score if self.state else None,
            seed_score=self.state.seed_score if self.state else None,
            batch_reward=batch_reward,
            total=total,
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


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
