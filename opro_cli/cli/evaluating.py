"""`opro eval` and `opro compare`: score prompts on held-out data, print or write the results, apply the gates."""

from __future__ import annotations

import json
import time
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer

from .batching import batch_phase, print_plan
from .shell import (
    BatchCancelOpt,
    BatchOpt,
    BatchRetryOpt,
    BatchStateOpt,
    CacheDirOpt,
    CacheOpt,
    ConcurrencyOpt,
    DryRunOpt,
    NoWaitOpt,
    QuietOpt,
    RetriesOpt,
    batch_options,
    call_options,
    consoles,
    user_errors,
)


class ResultFormat(str, Enum):
    table = "table"
    json = "json"
    junit = "junit"
    jsonl = "jsonl"


@user_errors
def eval_(
    artifact_path: Path = typer.Argument(..., metavar="ARTIFACT", help="Artifact written by `opro optimize`."),
    data: Path = typer.Option(..., "--data", "-d", help="Held-out examples (JSONL)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Evaluate the same prompt on another litellm model."),
    output: Optional[list[Path]] = typer.Option(
        None, "--output", "-o", metavar="FILE",
        help="Write the results to FILE, in --format or else by suffix: .xml JUnit, .json JSON, other JSONL "
        "(one line per example). Repeatable.",
    ),
    result_format: Optional[ResultFormat] = typer.Option(
        None, "--format", "-f",
        help="Results format: on stdout without -o (default: table), in the -o files with it "
        "(json: summary + every example; junit: one testcase per example).",
    ),
    json_summary: bool = typer.Option(False, "--json", help="Print a one-object JSON summary on stdout instead of the table."),
    baseline: bool = typer.Option(
        False, "--baseline", help="Also score the spec's seed prompt on the same data; show the gain with a 95% paired-bootstrap interval."
    ),
    min_score: Optional[float] = typer.Option(None, "--min-score", min=0, max=1, help="Exit 1 if the score (the mean reward) is below this (0-1)."),
    pass_threshold: float = typer.Option(
        1.0, "--pass-threshold", min=0, max=1, help="An example passes (a JUnit testcase) when its reward reaches this (0-1)."
    ),
    cache: bool = CacheOpt,
    cache_dir: Optional[Path] = CacheDirOpt,
    concurrency: Optional[int] = ConcurrencyOpt,
    retries: int = RetriesOpt,
    quiet: bool = QuietOpt,
    batch: bool = BatchOpt,
    batch_state: Optional[Path] = BatchStateOpt,
    batch_cancel: bool = BatchCancelOpt,
    no_wait: bool = NoWaitOpt,
    batch_retry: str = BatchRetryOpt,
    dry_run: bool = DryRunOpt,
) -> None:
    """Score an artifact's prompt on held-out data (exit 1 below --min-score)."""
    from ..artifact import load_artifact
    from ..errors import InputError, QualityGateError
    from ..files import check_writable
    from ..jobs import evaluate
    from ..reports.formats import EvalReport, file_format
    from ..reports.live import Display
    from ..reports.summaries import eval_table

    requested = result_format.value if result_format else None
    files = [(path, file_format(path, requested)) for path in output or []]
    to_stdout = requested if not output and requested not in (None, "table") else None  # else the table
    if json_summary and to_stdout:
        raise InputError(f"--json and --format {to_stdout} both print on stdout; write the results with -o FILE")
    if to_stdout == "jsonl":
        raise InputError("--format jsonl is for files: add -o FILE")
    for path, _ in files:
        check_writable(path, "results file")
    near = files[0][0] if files else None  # results go to disk as they come, next to the first -o file
    batching = batch_options(batch, batch_state, batch_cancel, no_wait, batch_retry, near)
    artifact = load_artifact(artifact_path)
    lm = call_options(cache, cache_dir, concurrency, retries).make_lm(artifact.task_spec().optimizer.concurrency)
    started = time.perf_counter()
    machine = json_summary or to_stdout is not None
    outcome = None
    if batching is not None or dry_run:
        from ..data import scan_dataset
        from ..jobs.batching import eval_runs, plan_batch

        dataset = scan_dataset(data, artifact.task_spec())  # every line checked before anything is uploaded
        runs = eval_runs(artifact, dataset, model, lm, baseline)
        if dry_run:
            return print_plan(plan_batch(lm, runs), json_summary)
        outcome = batch_phase(lm, runs, batching, cache_dir, f"evaluating {artifact_path.name}", quiet or machine)
        if outcome is None:
            return
    with Display(consoles.out, lm.usage, f"evaluating {artifact_path.name}", quiet or machine, lm.concurrency_text) as display:
        result = evaluate(artifact, data, model=model, baseline=baseline, lm=lm, on_progress=display.update,
                          rows_near=near)
    against = result.baseline
    report = EvalReport.build(artifact_path, artifact, data, result, min_score, against, time.perf_counter() - started,
                              pass_threshold)
    try:
        for path, fmt in files:
            report.write(path, fmt)
            if not quiet:
                consoles.err.print(f"wrote {fmt} results to {path}", markup=False, highlight=False, soft_wrap=True)
        if json_summary:
            typer.echo(json.dumps(report.summary()))
        elif to_stdout == "json":
            typer.echo(json.dumps(report.document(), indent=2, ensure_ascii=False))
        elif to_stdout == "junit":
            typer.echo(report.junit(), nl=False)
        else:
            consoles.out.print(eval_table(artifact_path, result, report.seconds, against, outcome))
    finally:
        result.rows.close()
        if against is not None:
            against.a.rows.close()
    if not report.passed:
        assert min_score is not None
        raise QualityGateError(f"score {result.score * 100:.1f}% is below --min-score {min_score * 100:.1f}%")


@user_errors
def compare(
    a: Path = typer.Argument(..., metavar="A", help="The reference artifact (e.g. the committed one)."),
    b: Path = typer.Argument(..., metavar="B", help="The artifact to judge against A (e.g. the regenerated one)."),
    data: Path = typer.Option(..., "--data", "-d", help="Examples both prompts answer (JSONL)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Run both prompts on this litellm model instead of their own."),
    fail_if_worse: bool = typer.Option(
        False, "--fail-if-worse", help="Exit 1 when B is worse than A beyond the 95% interval (a regression gate)."
    ),
    json_summary: bool = typer.Option(False, "--json", help="Print a one-object JSON summary on stdout instead of the table."),
    cache: bool = CacheOpt,
    cache_dir: Optional[Path] = CacheDirOpt,
    concurrency: Optional[int] = ConcurrencyOpt,
    retries: int = RetriesOpt,
    quiet: bool = QuietOpt,
    batch: bool = BatchOpt,
    batch_state: Optional[Path] = BatchStateOpt,
    batch_cancel: bool = BatchCancelOpt,
    no_wait: bool = NoWaitOpt,
    batch_retry: str = BatchRetryOpt,
    dry_run: bool = DryRunOpt,
) -> None:
    """Score two artifacts' prompts on the same data: per-example agreement and the paired 95% interval of B - A."""
    from ..errors import QualityGateError
    from ..jobs import CompareJob
    from ..progress import Progress
    from ..reports.formats import compare_summary, interval_text
    from ..reports.live import Display
    from ..reports.summaries import compare_table

    batching = batch_options(batch, batch_state, batch_cancel, no_wait, batch_retry, None)
    job = CompareJob(a, b, data, call_options(cache, cache_dir, concurrency, retries), model)
    started = time.perf_counter()
    outcome = None
    if batching is not None or dry_run:
        from ..jobs.batching import compare_runs, plan_batch

        if dry_run:
            return print_plan(plan_batch(job.lm, compare_runs(job)), json_summary)
        outcome = batch_phase(job.lm, compare_runs(job), batching, cache_dir, f"comparing {a.name} and {b.name}",
                              quiet or json_summary)
        if outcome is None:
            return
    progress = Progress(phase="comparing", step=0, total_steps=0, epoch=0, total=job.total)
    with Display(consoles.out, job.lm.usage, f"comparing {a.name} and {b.name}", quiet or json_summary, job.lm.concurrency_text) as display:
        display.update(progress)

        def tick(_: Any) -> None:
            progress.done += 1

        comparison = job.run(tick)
    seconds = time.perf_counter() - started
    if json_summary:
        typer.echo(json.dumps(compare_summary(comparison, a, b, data, seconds)))
    else:
        consoles.out.print(compare_table(a, b, data, comparison, seconds, outcome))
    if fail_if_worse and comparison.difference.worse:
        raise QualityGateError(f"{b} is worse than {a}: {interval_text(comparison.difference)}")
