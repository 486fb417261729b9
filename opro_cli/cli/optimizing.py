"""`opro optimize`: flags in, the job run under the live display, the summary out."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

import typer

from .shell import (
    CacheDirOpt, CacheOpt, ConcurrencyOpt, MaxCallsOpt, MaxCostOpt, QuietOpt, RetriesOpt, budget_value, call_options, consoles,
    user_errors,
)


@user_errors
def optimize(
    spec: Path = typer.Argument(..., help="Task spec (YAML)."),
    data: Path = typer.Option(..., "--data", "-d", help="Training examples (JSONL): shots and validation pool."),
    output: Path = typer.Option(Path("best.json"), "--output", "-o", help="Where to write the artifact."),
    val: Optional[Path] = typer.Option(None, "--val", help="Validation examples (JSONL): a pure hold-out, never a shot."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the spec's optimizer.seed."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Override the spec's optimizer.epochs."),
    budget: Optional[str] = typer.Option(None, "--budget", help="Override optimizer.budget: LM calls, or light|medium|heavy."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check everything and print the plan: no LM call, nothing written."),
    json_plan: bool = typer.Option(False, "--json", help="With --dry-run: the plan as one JSON object on stdout."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the checkpoint next to --output."),
    max_calls: Optional[int] = MaxCallsOpt,
    max_cost: Optional[float] = MaxCostOpt,
    cache: bool = CacheOpt,
    cache_dir: Optional[Path] = CacheDirOpt,
    concurrency: Optional[int] = ConcurrencyOpt,
    retries: int = RetriesOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Optimise the spec's prompt on the training data and write the best prompt found to an artifact."""
    from ..errors import ProviderError
    from ..jobs import OptimizeJob
    from ..jobs import optimize as run_optimize
    from ..reports.live import Display
    from ..reports.summaries import optimize_summary, plan_json, plan_table

    options = call_options(cache and not dry_run, cache_dir, concurrency, retries, max_calls=max_calls, max_cost=max_cost)
    if dry_run:
        trainer = OptimizeJob(spec, data, output, val, resume, seed, epochs, options, budget=budget_value(budget)).prepare()
        if json_plan:
            consoles.out.print_json(plan_json(trainer))
            return
        consoles.out.print(plan_table(trainer))
        consoles.out.print("dry run: no LM call made, nothing written.", highlight=False)
        return
    started = time.perf_counter()
    display = Display(consoles.out, _placeholder_usage(), f"optimising {spec.name}", quiet)
    prepared: list[Any] = []

    def on_start(trainer: Any) -> None:
        prepared.append(trainer)
        display.usage, display.concurrency = trainer.lm.usage, trainer.lm.concurrency_text
        if not quiet:  # --quiet keeps stderr for the one line a stop prints; the summary shows budget and spend
            consoles.out.print(trainer.plan.describe(), highlight=False, soft_wrap=True)

    try:
        with display:
            artifact = run_optimize(spec, data, output, validation=val, resume=resume, seed=seed, epochs=epochs,
                                    budget=budget_value(budget), options=options, on_progress=display.update,
                                    on_start=on_start)
    except (KeyboardInterrupt, ProviderError) as exc:
        if prepared and prepared[0].best_so_far() is not None:
            saved = f"best prompt so far written to {output}; continue with --resume"  # one line with the stop
            raise (KeyboardInterrupt(saved) if isinstance(exc, KeyboardInterrupt) else type(exc)(f"{exc} ({saved})")) from None
        raise
    table, notes = optimize_summary(artifact, time.perf_counter() - started, output)
    consoles.out.print(table)
    for note in notes:
        consoles.err.print(note, highlight=False)


def _placeholder_usage() -> Any:
    from ..lm import Usage

    return Usage()
