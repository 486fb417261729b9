"""`opro predict`: the optimised prompt answers a file of rows; flags in, the job run under the live display (or a
plain line every few seconds in logs), a one-line summary out."""

from __future__ import annotations

import time
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
    MaxCallsOpt,
    MaxCostOpt,
    NoWaitOpt,
    QuietOpt,
    RetriesOpt,
    batch_options,
    call_options,
    consoles,
    user_errors,
)

PLAIN_EVERY = 10.0  # seconds between progress lines when nobody watches a terminal


@user_errors
def predict(
    artifact_path: Path = typer.Argument(..., metavar="ARTIFACT", help="Artifact written by `opro optimize`."),
    data: Path = typer.Option(..., "--data", "-d", help="Rows to answer (JSONL): the template's fields; no expected answer needed."),
    output: Path = typer.Option(..., "--output", "-o", help="Predictions (JSONL): each input row plus `answer`, in input order."),
    raw: bool = typer.Option(False, "--raw", help="Add the model's text to each line (`raw`)."),
    resume: bool = typer.Option(False, "--resume", help="Finish the output an interrupted run left (OUTPUT.partial)."),
    cache: bool = CacheOpt,
    cache_dir: Optional[Path] = CacheDirOpt,
    concurrency: Optional[int] = ConcurrencyOpt,
    retries: int = RetriesOpt,
    max_calls: Optional[int] = MaxCallsOpt,
    max_cost: Optional[float] = MaxCostOpt,
    quiet: bool = QuietOpt,
    batch: bool = BatchOpt,
    batch_state: Optional[Path] = BatchStateOpt,
    batch_cancel: bool = BatchCancelOpt,
    no_wait: bool = NoWaitOpt,
    batch_retry: str = BatchRetryOpt,
    dry_run: bool = DryRunOpt,
) -> None:
    """Answer a file of rows with an artifact's prompt: the exact request it was scored with, read by the same parser."""
    from ..artifact import load_artifact
    from ..data import scan_dataset
    from ..files import check_writable
    from ..jobs.predicting import predict as run_predict
    from ..reports.live import Display, duration

    check_writable(output, "predictions file")
    batching = batch_options(batch, batch_state, batch_cancel, no_wait, batch_retry, output)
    artifact = load_artifact(artifact_path)
    summary = scan_dataset(data, artifact.task_spec(), inputs_only=True)  # every line checked before any call
    options = call_options(cache, cache_dir, concurrency, retries, max_calls=max_calls, max_cost=max_cost)
    lm = options.make_lm(artifact.task_spec().optimizer.concurrency)
    started = time.perf_counter()
    if batching is not None or dry_run:
        from ..jobs.batching import plan_batch, predict_runs

        runs = predict_runs(artifact, summary, lm)
        if dry_run:
            return print_plan(plan_batch(lm, runs), False)
        if batch_phase(lm, runs, batching, cache_dir, f"predicting with {artifact_path.name}", quiet) is None:
            return
    plain = quiet or not consoles.out.is_terminal
    last_line, first_done = [started], [-1]

    with Display(consoles.out, lm.usage, f"predicting with {artifact_path.name}", quiet, lm.concurrency_text) as display:

        def show(progress: Any) -> None:
            display.update(progress)
            now = time.perf_counter()
            if first_done[0] < 0:
                first_done[0] = progress.done  # rows a resumed run found written: not part of this run's pace
            if plain and not quiet and now - last_line[0] >= PLAIN_EVERY:
                last_line[0] = now
                consoles.err.print(rows_line(progress.done, progress.total, now - started, first_done[0]),
                                   highlight=False, markup=False, soft_wrap=True)

        result = run_predict(artifact, summary, output, raw=raw, resume=resume, lm=lm, on_progress=show)
    seconds = time.perf_counter() - started
    unreadable = f", {result.unreadable} unreadable (answer null, see error)" if result.unreadable else ""
    resumed = f" ({result.resumed} from the interrupted run)" if result.resumed else ""
    consoles.err.print(
        f"wrote {result.rows} predictions{resumed} to {output}{unreadable}; {result.usage.calls} calls, "
        f"{result.usage.cached_calls} cached, {duration(seconds)}",
        highlight=False, markup=False, soft_wrap=True,
    )


def rows_line(done: int, total: int, elapsed: float, before: int = 0) -> str:
    """`rows 1200/10000, 85.3 rows/s, ~1m43s left`; `before` rows were written by an earlier run."""
    from ..reports.live import duration

    rate = (done - before) / elapsed if elapsed > 0 else 0.0
    left = f", ~{duration((total - done) / rate)} left" if rate and done < total else ""
    return f"rows {done}/{total}, {rate:.1f} rows/s{left}"
