"""The jobs behind the commands, usable without the CLI: optimise a spec, evaluate an artifact's prompt.

They wire spec, data, LM layer, trainer and artifact together; the CLI only parses flags and draws.
`optimize` and `evaluate` are the Python API (`from opro_cli import optimize, evaluate`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from . import checkpoint, event_loop
from .artifact import (
    Artifact,
    DataRecord,
    FormatRecord,
    RunRecord,
    Scores,
    SeedComparison,
    public_spec,
    save_artifact,
    versions,
)
from .lm.cache import ResponseCache, default_cache_dir
from .data import Dataset, load_dataset
from .errors import OutputError, ProviderError
from .files import check_writable
from .scoring import TaskRunner, mean_reward, resolve_format
from .lm import LM, Budget, RetryPolicy, Usage
from .optimizer import OptimizerState, Prediction
from .prompt import Prompt
from .racing import paired
from .spec import ModelConfig, TaskSpec, load_spec
from .trainer import Progress, RunResult, Trainer, run_id, split_data

if TYPE_CHECKING:
    from .comparison import Comparison


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
    budget: int | str | None = None

    def prepare(self, on_progress: Callable[[Progress], None] = lambda p: None) -> Trainer:
        """Load and check everything before the first call, so bad input fails fast."""
        check_writable(self.output, "artifact")
        check_writable(checkpoint.checkpoint_path(self.output), "checkpoint")
        spec = load_spec(self.spec_path)
        settings = {"seed": self.seed, "epochs": self.epochs, "budget": self.budget}
        overrides = {k: v for k, v in settings.items() if v is not None}
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
        try:
            save_artifact(self.output, artifact)
        except OutputError as exc:
            trainer.save_checkpoint()  # raises its own one-line OutputError if that cannot be written either
            raise OutputError(
                f"{exc}; the best prompt ({artifact.scores.best_validation * 100:.1f}% on validation) is kept in "
                f"{trainer.checkpoint_file}: free {self.output} and run the same command with --resume to write it"
            ) from None
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
        scores=scores(state, trainer.plan.budget),
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


def scores(state: OptimizerState, budget: int) -> Scores:
    """How good the best prompt is and how sure we are: its interval, and its lead over the seed prompt."""
    best, seed = state.best, state.seed
    versus = paired(best.rewards, seed.rewards)
    return Scores(
        seed_validation=seed.score,
        best_validation=best.score,
        seed_examples=len(seed.rewards),
        best_examples=len(best.rewards),
        best_ci95=best.interval(),
        best_vs_seed=SeedComparison(
            examples=versus.examples, best_only=versus.wins, seed_only=versus.losses, p_value=versus.p_value
        ),
        screened=state.screened,
        promoted=state.promoted,
        budget=budget,
        spent=state.spent,
    )


@dataclass
class EvalResult:
    """A prompt's score on a data file; `baseline` compares it with the seed prompt when that was asked for."""

    score: float
    predictions: list[Prediction]
    usage: Usage
    model: str
    baseline: Comparison | None = None

    @property
    def parse_failures(self) -> int:
        return sum(1 for p in self.predictions if p.answer is None)


def evaluate_prompt(
    spec: TaskSpec,
    prompt: Prompt,
    data_path: Path | Dataset,
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
    data = data_path if isinstance(data_path, Dataset) else load_dataset(data_path, spec)
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


def optimize(
    spec: str | Path,
    data: str | Path,
    output: str | Path = "best.json",
    *,
    validation: str | Path | None = None,
    resume: bool = False,
    seed: int | None = None,
    epochs: int | None = None,
    budget: int | str | None = None,
    options: CallOptions | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_start: Callable[[Trainer], None] | None = None,
) -> Artifact:
    """`opro optimize` as a function: optimise the spec's prompt on `data`, write the artifact to `output` and
    return it. Everything is checked before the first LM call (InputError / OutputError). On Ctrl-C or a
    provider failure after the seed prompt was scored, the best prompt so far is written, then the exception
    goes on. `on_start` gets the prepared trainer (its `lm.usage` counts live); `on_progress` its snapshots."""
    job = OptimizeJob(
        spec_path=Path(spec),
        data_path=Path(data),
        output=Path(output),
        validation_path=Path(validation) if validation else None,
        resume=resume,
        seed=seed,
        epochs=epochs,
        options=options or CallOptions(),
        budget=budget,
    )
    trainer = job.prepare(on_progress or (lambda progress: None))
    if on_start is not None:
        on_start(trainer)
    try:
        result = job.run(trainer)
    except (KeyboardInterrupt, ProviderError) as exc:
        best_so_far = trainer.best_so_far()
        if best_so_far is not None:
            stopped = "interrupted" if isinstance(exc, KeyboardInterrupt) else "provider"
            job.finish(trainer, RunResult(best_so_far, stopped, str(exc), trainer.started_at, _now()))
        raise
    return job.finish(trainer, result)


def evaluate(
    artifact: str | Path | Artifact,
    data: str | Path,
    *,
    model: str | None = None,
    baseline: bool = False,
    options: CallOptions | None = None,
    lm: LM | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> EvalResult:
    """`opro eval` as a function: the artifact's prompt scored on `data` (another litellm `model` if given).
    With `baseline`, the spec's seed prompt runs on the same data too and `result.baseline` holds the paired
    comparison (gain, 95 % interval). `on_progress` gets a snapshot after every answer (done / total)."""
    from .artifact import load_artifact
    from .comparison import Comparison, score_baseline

    loaded = artifact if isinstance(artifact, Artifact) else load_artifact(artifact)
    spec = loaded.task_spec()
    dataset = load_dataset(data, spec)
    lm = lm or (options or CallOptions()).make_lm(spec.optimizer.concurrency)
    progress = Progress(phase="evaluating", step=0, total_steps=0, epoch=0, total=len(dataset) * (1 + baseline))
    report = on_progress or (lambda progress: None)
    report(progress)

    def tick(_: Prediction) -> None:
        progress.done += 1
        report(progress)

    result = evaluate_prompt(spec, loaded.prompt, dataset, loaded, model, lm=lm, on_done=tick)
    if baseline:
        progress.phase = "scoring the seed prompt"
        result.baseline = Comparison.of(score_baseline(loaded, dataset, model, lm, on_done=tick), result)
    return result


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
