"""`opro optimize` as a job: spec, data, LM layer, trainer and artifact wired together; everything is checked
before the first LM call, and the best prompt so far is written on any stop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .. import event_loop
from ..artifact import (
    Artifact,
    Closest,
    DataRecord,
    FormatRecord,
    OutputRecord,
    RunRecord,
    Scores,
    SeedComparison,
    public_spec,
    save_artifact,
    versions,
)
from ..data import Dataset, load_dataset
from ..errors import OutputError, ProviderError
from ..files import check_writable
from ..progress import Progress
from ..scoring.judge import JUDGE_PURPOSE
from ..scoring.runner import TaskRunner, resolve_format
from ..search import checkpoint
from ..search.racing import paired
from ..search.split import split_data
from ..search.state import OptimizerState
from ..search.trainer import RunResult, Trainer, run_id
from ..spec import load_spec
from .options import CallOptions


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
            outputs=[OutputRecord(name=o.name, type=o.type, choices=list(o.choices)) for o in fmt.outputs] or None,
        ),
        scores=scores(state, trainer.context.completion, trainer.plan.call_budget, trainer.plan.in_calls(state.spent)),
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
            judge_usage=trainer.lm.usage_by[JUDGE_PURPOSE].as_dict() if JUDGE_PURPOSE in trainer.lm.usage_by else None,
        ),
        failures=list(state.best.failures) if spec.failures_shown else None,
    )


def scores(state: OptimizerState, completion: Callable[[OptimizerState, str], int], budget: int, spent: int) -> Scores:
    """How good the best prompt is and how sure we are: its interval, and its lead over the seed prompt; when the
    seed prompt is returned, the candidate nearest to beating it (`completion`: evaluations it lacked)."""
    best, seed = state.best, state.seed
    versus = paired(best.rewards, seed.rewards)
    return Scores(
        seed_validation=seed.score,
        best_validation=best.score,
        seed_examples=len(seed.rewards),
        best_examples=len(best.rewards),
        best_ci95=best.interval(),
        best_vs_seed=SeedComparison(
            examples=versus.examples, best_only=versus.wins, seed_only=versus.losses, p_value=versus.mid_p_value
        ),
        screened=state.screened,
        promoted=state.promoted,
        budget=budget,  # LM calls; with a judge, every answer's judge calls too
        spent=spent,
        closest=closest(state, completion) if state.best_id == state.seed_id else None,
    )


def closest(state: OptimizerState, completion: Callable[[OptimizerState, str], int]) -> Closest | None:
    """The candidate with the largest lead over the seed prompt on the examples both were scored on (then the
    most examples); None when no candidate was scored."""
    seed = state.seed.rewards
    leads = [(paired(entry.rewards, seed), name) for name, entry in state.entries.items()
             if name != state.seed_id and entry.rewards]
    if not leads:
        return None
    versus, name = max(leads, key=lambda item: (item[0].wins - item[0].losses, item[0].examples))
    entry = state.entries[name]
    return Closest(score=entry.score, examples=len(entry.rewards), whole_pool=completion(state, name) == 0,
                   better=versus.wins, worse=versus.losses, p_value=versus.mid_p_value)


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


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
