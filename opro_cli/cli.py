"""The `opro` command: parses flags, calls the jobs, prints. User errors become one line and an exit code.

Heavy modules (pydantic models, litellm) are imported inside commands so `opro --help` starts fast.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional, TypeVar

import typer
from rich.console import Console

from .errors import EXIT_INTERRUPTED, OproError

app = typer.Typer(
    help="Optimise an LM prompt (instructions + few-shot examples) with FewShotOPRO, through litellm.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def user_errors(command: F) -> F:
    """Turn OproError into one line on stderr and its exit code; Ctrl-C into exit 130."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except OproError as exc:
            err.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted", highlight=False)
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]


CacheOpt = typer.Option(True, "--cache/--no-cache", help="Reuse LM responses from the on-disk cache.")
CacheDirOpt = typer.Option(None, "--cache-dir", help="Cache directory [default: $OPRO_CACHE_DIR or ~/.cache/opro-cli].")
ConcurrencyOpt = typer.Option(None, "--concurrency", "-j", min=1, help="Concurrent LM calls [default: the spec's].")
RetriesOpt = typer.Option(7, "--retries", min=0, help="Retries of a transient provider failure (429, 5xx, timeout).")
QuietOpt = typer.Option(False, "--quiet", "-q", help="No live display, only the final summary (for CI logs).")


def _call_options(cache: bool, cache_dir: Optional[Path], concurrency: Optional[int], retries: int, **budget: Any) -> Any:
    from .jobs import CallOptions

    return CallOptions(cache=cache, cache_dir=cache_dir, concurrency=concurrency, retries=retries, **budget)


@app.command()
@user_errors
def optimize(
    spec: Path = typer.Argument(..., help="Task spec (YAML)."),
    data: Path = typer.Option(..., "--data", "-d", help="Training examples (JSONL); a validation share is held out."),
    output: Path = typer.Option(Path("best.json"), "--output", "-o", help="Where to write the artifact."),
    val: Optional[Path] = typer.Option(None, "--val", help="Validation examples (JSONL) instead of a held-out share."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the spec's optimizer.seed."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Override the spec's optimizer.epochs."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the checkpoint next to --output."),
    max_calls: Optional[int] = typer.Option(None, "--max-calls", min=1, help="Stop cleanly after this many provider calls."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", min=0, help="Stop cleanly at this cost in USD."),
    cache: bool = CacheOpt,
    cache_dir: Optional[Path] = CacheDirOpt,
    concurrency: Optional[int] = ConcurrencyOpt,
    retries: int = RetriesOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Optimise the spec's prompt on the training data and write the best prompt found to an artifact."""
    from .errors import ProviderError
    from .jobs import OptimizeJob
    from .progress import Display
    from .trainer import RunResult

    options = _call_options(cache, cache_dir, concurrency, retries, max_calls=max_calls, max_cost=max_cost)
    job = OptimizeJob(spec, data, output, val, resume, seed, epochs, options)
    started = time.perf_counter()
    display = Display(out, _placeholder_usage(), f"optimising {spec.name}", quiet)
    trainer = job.prepare(display.update)
    display.usage = trainer.lm.usage
    try:
        with display:
            result = job.run(trainer)
    except (KeyboardInterrupt, ProviderError) as exc:
        if trainer.state is None:
            raise
        stopped = "interrupted" if isinstance(exc, KeyboardInterrupt) else "provider"
        artifact = job.finish(trainer, RunResult(trainer.state, stopped, str(exc), trainer.started_at, _now()))
        err.print(f"stopped ({stopped}); best prompt so far written to {output}; continue with --resume", highlight=False)
        raise
    artifact = job.finish(trainer, result)
    _optimize_summary(artifact, time.perf_counter() - started, output)


@app.command("eval")
@user_errors
def eval_(
    artifact_path: Path = typer.Argument(..., metavar="ARTIFACT", help="Artifact written by `opro optimize`."),
    data: Path = typer.Option(..., "--data", "-d", help="Held-out examples (JSONL)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Evaluate the same prompt on another litellm model."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write per-example results (JSONL)."),
    min_score: Optional[float] = typer.Option(None, "--min-score", min=0, max=1, help="Exit 1 if the score is below this (0-1)."),
    cache: bool = CacheOpt,
    cache_dir: Optional[Path] = CacheDirOpt,
    concurrency: Optional[int] = ConcurrencyOpt,
    retries: int = RetriesOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Score an artifact's prompt on held-out data."""
    from .artifact import load_artifact
    from .errors import QualityGateError
    from .jobs import evaluate_prompt
    from .progress import Display
    from .results import write_results_jsonl
    from .trainer import Progress

    artifact = load_artifact(artifact_path)
    spec = artifact.task_spec()
    options = _call_options(cache, cache_dir, concurrency, retries)
    lm = options.make_lm(spec.optimizer.concurrency)
    started = time.perf_counter()
    progress = Progress(phase="evaluating", step=0, total_steps=0, epoch=0)
    with Display(out, lm.usage, f"evaluating {artifact_path.name}", quiet) as display:
        display.update(progress)

        def tick(_: Any) -> None:
            progress.done += 1

        result = evaluate_prompt(spec, artifact.prompt, data, artifact, model, lm=lm, on_done=tick)
    if output is not None:
        write_results_jsonl(output, result.predictions)
    _eval_summary(artifact_path, result, time.perf_counter() - started)
    if min_score is not None and result.score < min_score:
        raise QualityGateError(f"score {result.score * 100:.1f}% is below --min-score {min_score * 100:.1f}%")


def _placeholder_usage() -> Any:
    from .lm import Usage

    return Usage()


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _optimize_summary(artifact: Any, seconds: float, output: Path) -> None:
    from rich.table import Table

    from .lm import Usage
    from .progress import pct, usage_rows

    table = Table(title=f"opro optimize: {artifact.task}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("seed prompt (validation)", pct(artifact.scores.seed_validation))
    table.add_row("best prompt (validation)", pct(artifact.scores.best_validation))
    table.add_row("steps", f"{len(artifact.history)} ({artifact.run.stopped})")
    usage_rows(table, Usage(**{k: type(getattr(Usage(), k))(v) for k, v in artifact.run.usage.items()}), seconds)
    table.add_row("artifact", str(output))
    out.print(table)
    if artifact.run.message:
        err.print(f"note: {artifact.run.message}", highlight=False)


def _eval_summary(path: Path, result: Any, seconds: float) -> None:
    from rich.table import Table

    from .progress import pct, usage_rows

    table = Table(title=f"opro eval: {path}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("score", f"{pct(result.score)}  ({sum(p.reward for p in result.predictions):g}/{len(result.predictions)})")
    table.add_row("model", result.model)
    table.add_row("unparseable answers", str(result.parse_failures))
    usage_rows(table, result.usage, seconds)
    out.print(table)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
