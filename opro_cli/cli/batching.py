"""The `--batch` and `--dry-run` parts of `opro eval` and `opro compare`: the batch phase with its status on
screen, what a stop, a cancel or `--no-wait` prints, and the dry run's plan."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer

from .shell import consoles


def batch_phase(lm: Any, runs: list[Any], options: Any, cache_dir: Path | None, title: str, quiet: bool) -> Any:
    """Submit, resume or cancel the batch and wait for it (unless --no-wait); the outcome, or None when the
    command ends here (cancelled, or left running)."""
    from ..jobs.batching import run_batch
    from ..progress import Progress
    from ..reports.live import Display

    progress = Progress(phase="preparing the batch", step=0, total_steps=0, epoch=0)
    with Display(consoles.out, lm.usage, title, quiet, None) as display:
        display.update(progress)
        plain = quiet or not consoles.out.is_terminal

        def status(waiting: Any) -> None:
            progress.phase = waiting.text()
            display.update(progress)
            if plain and waiting.polled:  # logs get one line per poll, not one per second
                consoles.err.print(progress.phase, highlight=False, markup=False, soft_wrap=True)

        outcome = run_batch(lm, runs, options, cache_dir, status)
    if options.cancel:
        said = f"cancelled {', '.join(outcome.cancelled)}" if outcome.cancelled else "no batch to cancel"
        consoles.err.print(f"{said} (state {outcome.state})", highlight=False, markup=False, soft_wrap=True)
        return None
    if outcome.pending:
        for status_ in outcome.pending:
            typer.echo(f"{status_.id} {status_.status} {status_.completed}/{status_.total}")
        consoles.err.print(
            f"batch left running; state in {outcome.state}; run the same command without --no-wait to collect it",
            highlight=False, markup=False, soft_wrap=True,
        )
        return None
    return outcome


def print_plan(plan: Any, as_json: bool) -> None:
    """`--dry-run`: the planned batch beside the live calls."""
    from ..reports.summaries import batch_plan_table

    if as_json:
        typer.echo(json.dumps(asdict(plan)))
    else:
        consoles.out.print(batch_plan_table(plan))
