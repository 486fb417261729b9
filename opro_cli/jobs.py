"""The jobs behind the commands, usable without the CLI: optimise a spec, evaluate an artifact's prompt.

They wire spec, data, LM layer, trainer and artifact together; the CLI only parses flags and draws.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import checkpoint, event_loop
from .artifact import Artifact, DataRecord, FormatRecord, RunRecord, Scores, public_spec, save_artifact, versions
from .lm.cache import ResponseCache, default_cache_dir
from .data import Dataset, load_dataset
from .evaluate import TaskRunner, mean_reward, resolve_format
from .lm import LM, Budget, RetryPolicy, Usage
from .optimizer import Prediction
from .prompt import Prompt
from .spec import ModelConfig, TaskSpec, load_spec
from .trainer import Progress, RunResult, Trainer, run_id, split_data


@dataclass
class CallOptions:
    """How LM calls are made: shared by every command that calls a model."""

    cache: bool = True
    cache_dir: Path | None = None
    concurrency: int | None = None
    max_calls: int | None = None
    max_cost: float | None = None
    retries: int = 7

    def make_lm(self, spec_concurrency: int) -> LM:
        cache = ResponseCache(self.cache_dir or default_cache_dir()) if self.cache else None
        return LM(
            cache=cache,
            concurrency=self.concurrency or spec_concurrency,
            budget=Budget(self.max_calls, self.max_cost),
            retry=RetryPolicy(attempts=self.retries + 1),
        )


@dataclass
class OptimizeJob:
    spec_path: Path
    data_path: Path
    output: Path
    validation_path: Path | None = None
    resume: bool = False
    seed: int | None = None
    epochs: int | None = None
    options: CallOptions = field(default_factory=CallOptions)

    def prepare(self, on_progress: Callable[[Progress], None] = lambda p: None) -> Trainer:
        """Load and check everything before the first call, so bad input fails fast."""
        spec = load_spec(self.spec_path)
        overrides = {k: v for k, v in {"seed": self.seed, "epochs": self.epochs}.items() if v is not None}
        if overrides:
            spec = spec.model_copy(update={"optimizer": spec.optimizer.model_copy(update=overrides)})
        data = load_dataset(self.data_path, spec)
        validation = load_dataset(self.validation_path, spec) if self.validation_path else None
        lm = self.options.make_lm(spec.optimizer.concurrency)
        fmt = resolve_format(spec, spec.model, [e.expected for e in data.examples])
        self._data, self._validation = data, validation
        return Trainer(
            spec=spec,
            runner=TaskRunner(spec, spec.model, fmt, lm),
            split=split_data(spec, data, validation),
            run_id=run_id(spec, data, validation, fmt),
            checkpoint_file=checkpoint.checkpoint_path(self.output),
            on_progress=on_progress,
        )

    def run(self, trainer: Trainer) -> RunResult:
        return event_loop.run(trainer.run(resume=self.resume))

    def finish(self, trainer: Trainer, result: RunResult) -> Artifact:
        """Write the best prompt so far; the checkpoint goes when the run completed, else it is brought up
        to date (usage of the unfinished step included) for --resume."""
        artifact = build_artifact(trainer, result, self._data, self._validation)
        save_artifact(self.output, artifact)
        if result.stopped != "completed":
            trainer.save_checkpoint()
        elif trainer.checkpoint_file is not None:
            trainer.checkpoint_file.unlink(missing_ok=True)
        return artifact


def build_artifact(trainer: Trainer, result: RunResult, data: Dataset, validation: Dataset | None) -> Artifact:
    spec, state, fmt = trainer.spec, result.state, trainer.runner.fmt
    return Artifact(
        task=spec.name,
        instructions=state.best.prompt.instructions,
        shots=list(state.best.prompt.shots),
        answer_format=FormatRecord(
            type=fmt.type,
            choices=list(fmt.choices),
            fields=fmt.fields,
            structured=state.best.structured,
            seed_structured=trainer.modes[0],
        ),
        scores=Scores(seed_validation=state.seed_score, best_validation=state.best.score),
        history=state.history,
        spec=public_spec(spec),
        data=DataRecord(
            train_sha256=data.sha256,
            validation_sha256=validation.sha256 if validation else None,
            train_examples=len(trainer.split.train),
            validation_examples=len(trainer.split.validation),
        ),
        seed=spec.optimizer.seed,
        run_id=trainer.run_id,
        models={"model": spec.model.name, "optimizer_model": spec.proposer.name},
        versions=versions(),
        run=RunRecord(
            started_at=result.started_at,
            finished_at=result.finished_at,
            stopped=result.stopped,
            message=result.message,
            usage=trainer.lm.usage.as_dict(),
        ),
    )


@dataclass
class EvalResult:
    score: float
    predictions: list[Prediction]
    usage: Usage
    model: str

    @property
    def parse_failures(self) -> int:
        return sum(1 for p in self.predictions if p.answer is None)


def evaluate_prompt(
    spec: TaskSpec,
    prompt: Prompt,
    data_path: Path,
    fmt_source: Artifact | None = None,
    model: str | None = None,
    options: CallOptions | None = None,
    on_done: Callable[[Prediction], None] | None = None,
    lm: LM | None = None,
    seed_format: bool = False,
) -> EvalResult:
    """Score a prompt on a data file. With an artifact, the answer format it was optimised with is reused,
    unless another model is asked for, whose format (schema or not) is resolved afresh. `seed_format` takes the
    format the artifact's seed prompt was scored with (for baselines)."""
    data = load_dataset(data_path, spec)
    target = spec.model if model is None else ModelConfig.model_validate({**spec.model.model_dump(), "name": model})
    if fmt_source is not None and model is None:
        fmt = fmt_source.format(seed=seed_format)
    else:
        choices = list(fmt_source.answer_format.choices) if fmt_source else [e.expected for e in data.examples]
        fmt = resolve_format(spec, target, choices)
    lm = lm or (options or CallOptions()).make_lm(spec.optimizer.concurrency)
    runner = TaskRunner(spec, target, fmt, lm)
    predictions = event_loop.run(runner.predict(prompt, data.examples, on_done))
    return EvalResult(mean_reward(predictions), predictions, lm.usage, target.name)
