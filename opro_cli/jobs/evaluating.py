"""`opro eval` as a job: a prompt scored on a data file, streamed, with its results on disk; with `baseline`, the
seed prompt on the same data and the paired comparison."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from .. import event_loop
from ..artifact import Artifact, load_artifact
from ..data import DataSummary, Dataset, Example, iter_examples, scan_dataset
from ..lm import LM, Usage
from ..progress import Progress
from ..scoring.evaluation import Comparison, EvalResult
from ..scoring.judge import JUDGE_PURPOSE
from ..scoring.prediction import Prediction
from ..scoring.prompt import Prompt
from ..scoring.results import ResultRows
from ..scoring.runner import TaskRunner, resolve_format
from ..spec import ModelConfig, TaskSpec
from .options import CallOptions


AHEAD_PER_SLOT = 8  # examples started ahead per concurrent call, so a slow one does not starve the others


def evaluate_prompt(
    spec: TaskSpec,
    prompt: Prompt,
    data_path: Path | Dataset | DataSummary,
    fmt_source: Artifact | None = None,
    model: str | None = None,
    options: CallOptions | None = None,
    on_done: Callable[[Prediction], None] | None = None,
    lm: LM | None = None,
    seed_format: bool = False,
    rows_near: Path | None = None,
) -> EvalResult:
    """Score a prompt on a data file, streaming it: a path is checked first (bad input fails before any call;
    a DataSummary was checked already), then read again example by example while results go to disk (next to
    `rows_near` if given), so memory stays flat on any size of data. A Dataset already in memory is used as is.

    With an artifact, the answer format it was optimised with is reused, unless another model is asked for,
    whose format (schema or not) is resolved afresh. `seed_format` takes the format the artifact's seed prompt
    was scored with (for baselines)."""
    data = data_path if isinstance(data_path, (Dataset, DataSummary)) else scan_dataset(data_path, spec)
    lm = lm or (options or CallOptions()).make_lm(spec.optimizer.concurrency)
    runner = prompt_runner(spec, data, fmt_source, model, lm, seed_format)
    examples = examples_of(data, spec)
    rows = ResultRows(rows_near)

    async def run() -> None:
        async for example, prediction in runner.predict_in_order(prompt, examples, ahead=AHEAD_PER_SLOT * lm.concurrency):
            rows.add(example.line, prediction)
            if on_done:
                on_done(prediction)

    try:
        event_loop.run(run())
    except BaseException:
        rows.close()
        raise
    judge_usage = lm.usage_by.setdefault(JUDGE_PURPOSE, Usage()) if runner.scorer.judged else None
    return EvalResult(sum(rows.rewards) / len(rows), rows, lm.usage, runner.model.name, judge_usage=judge_usage)


def prompt_runner(
    spec: TaskSpec,
    data: Dataset | DataSummary,
    fmt_source: Artifact | None,
    model: str | None,
    lm: LM,
    seed_format: bool = False,
) -> TaskRunner:
    """The runner of an evaluation: the target model and the answer format it is asked in (see
    `evaluate_prompt`); shared with the batch phase, so both ask exactly the same calls."""
    target = spec.model if model is None else ModelConfig.model_validate({**spec.model.model_dump(), "name": model})
    if fmt_source is not None and model is None:
        fmt = fmt_source.format(seed=seed_format)
    else:
        answers = {e.expected for e in data.examples} if isinstance(data, Dataset) else data.answers
        choices = list(fmt_source.answer_format.choices) if fmt_source else sorted(answers)
        fmt = resolve_format(spec, target, choices)
        if fmt_source is not None and fmt_source.answer_format.outputs:  # the fields' label sets as optimised
            fmt = replace(fmt_source.format(seed=seed_format), structured=fmt.structured)
    return TaskRunner(spec, target, fmt, lm)


def examples_of(data: Dataset | DataSummary, spec: TaskSpec) -> Iterable[Example]:
    """A data set's examples: from memory, or read again from its (checked) file."""
    return data.examples if isinstance(data, Dataset) else iter_examples(data.path, spec, data.inputs_only)


def seed_prompt(artifact: Artifact) -> Prompt:
    """The prompt the optimisation started from: the spec's instructions, no shots."""
    return Prompt(instructions=artifact.task_spec().prompt.instructions)


def score_baseline(
    artifact: Artifact,
    data: Path | Dataset | DataSummary,
    model: str | None,
    lm: LM,
    on_done: Callable[[Prediction], None] | None = None,
) -> EvalResult:
    """The seed prompt on the same data, model and answer format as the artifact's own evaluation."""
    return evaluate_prompt(
        artifact.task_spec(), seed_prompt(artifact), data, artifact, model, lm=lm, on_done=on_done, seed_format=True
    )


def evaluate(
    artifact: str | Path | Artifact,
    data: str | Path | DataSummary,
    *,
    model: str | None = None,
    baseline: bool = False,
    options: CallOptions | None = None,
    lm: LM | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    rows_near: Path | None = None,
) -> EvalResult:
    """`opro eval` as a function: the artifact's prompt scored on `data` (another litellm `model` if given).
    With `baseline`, the spec's seed prompt runs on the same data too and `result.baseline` holds the paired
    comparison (gain, 95 % interval). `on_progress` gets a snapshot after every answer (done / total). The data
    is streamed: per-example results go to disk as they come (`.NAME.partial` next to `rows_near` if given;
    `result.rows`, or `result.predictions` to read them all back), so any size of data runs in flat memory."""
    loaded = artifact if isinstance(artifact, Artifact) else load_artifact(artifact)
    spec = loaded.task_spec()
    dataset = data if isinstance(data, DataSummary) else scan_dataset(data, spec)  # checked whole now, read again later
    lm = lm or (options or CallOptions()).make_lm(spec.optimizer.concurrency)
    progress = Progress(phase="evaluating", step=0, total_steps=0, epoch=0, total=dataset.examples * (1 + baseline))
    report = on_progress or (lambda progress: None)
    report(progress)

    def tick(_: Prediction) -> None:
        progress.done += 1
        report(progress)

    result = evaluate_prompt(spec, loaded.prompt, dataset, loaded, model, lm=lm, on_done=tick, rows_near=rows_near)
    if baseline:
        progress.phase = "scoring the seed prompt"
        result.baseline = Comparison.of(score_baseline(loaded, dataset, model, lm, on_done=tick), result)
    return result
