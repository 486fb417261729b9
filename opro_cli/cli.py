"""The `opro` command: parses flags, calls the jobs, prints. User errors become one line and an exit code.

Heavy modules (pydantic models, litellm) are imported inside commands so `opro --help` starts fast.
"""

from __future__ import annotations

import functools
import json
import signal
import sys
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any, Optional, TypeVar

import typer

from .errors import EXIT_INTERRUPTED, OproError, OutputError
from .terminal import make_console, plain_help

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 quality gate failed (--min-score, --fail-if-worse); "
    "2 bad input (spec, data, artifact, flags); 3 provider failure (refused, or still failing after retries); "
    "130 interrupted.\n\n"
    "Environment: provider keys as litellm reads them (OPENAI_API_KEY, ...), also from a .env file in the "
    "working directory (variables already set win); OPRO_CACHE_DIR for the response cache; NO_COLOR for plain output."
)

app = typer.Typer(
    help="Optimise an LM prompt (instructions + few-shot examples) with FewShotOPRO, through litellm.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
out = make_console()
err = make_console(stderr=True)
plain_help()
F = TypeVar("F", bound=Callable[..., Any])


@app.callback(epilog=EXIT_CODES_HELP)
def _before_any_command() -> None:
    # Runs before every command (not for --help): read ./.env, then build the consoles, so a NO_COLOR set
    # there (or by the caller at run time) applies. Cheap: nothing heavy is imported here.
    global out, err
    from .envfile import load_env_file

    load_env_file(Path(".env"))
    out, err = make_console(), make_console(stderr=True)


def user_errors(command: F) -> F:
    """Turn OproError into one line on stderr and its exit code; Ctrl-C and SIGTERM into exit 130."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # A cancelled CI job (SIGTERM) stops as a Ctrl-C does: optimize still writes its best-so-far artifact.
        previous = signal.signal(signal.SIGTERM, _stop_on_sigterm) if _main_thread() else None
        try:
            return command(*args, **kwargs)
        except OproError as exc:
            line = "".join(ch if ch.isprintable() else " " for ch in str(exc))  # one line, no escape codes
            err.print(f"error: {line}", highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt as exc:
            err.print(f"interrupted: {exc}" if str(exc) else "interrupted", highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    return wrapper  # type: ignore[return-value]


CacheOpt = typer.Option(True, "--cache/--no-cache", help="Reuse LM responses from the on-disk cache.")
CacheDirOpt = typer.Option(None, "--cache-dir", help="Cache directory (default: $OPRO_CACHE_DIR, else ~/.cache/opro-cli).")
ConcurrencyOpt = typer.Option(None, "--concurrency", "-j", min=1, help="Concurrent LM calls (default: the spec's optimizer.concurrency).")
RetriesOpt = typer.Option(7, "--retries", min=0, help="Retries of a transient provider failure (429, 5xx, timeout).")
QuietOpt = typer.Option(
    False, "--quiet", "-q", help="No live display: one plain line per optimisation step, then the summary (for CI logs)."
)


def _call_options(cache: bool, cache_dir: Optional[Path], concurrency: Optional[int], retries: int, **budget: Any) -> Any:
    from .jobs import CallOptions

    return CallOptions(cache=cache, cache_dir=cache_dir, concurrency=concurrency, retries=retries, **budget)


@app.command()
@user_errors
def init(
    data: Path = typer.Option(..., "--data", "-d", help="A dataset (JSONL) to write a spec for."),
    output: Path = typer.Option(Path("task.yaml"), "--output", "-o", help="Where to write the spec; never overwritten."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="The litellm model to prompt (default: the embedded local/smollm2)."),
    output_field: Optional[str] = typer.Option(
        None, "--output-field", help="The field holding the expected answer (default: one named like label/answer/target/..., else the last)."
    ),
) -> None:
    """Write a commented task spec guessed from a dataset: output field, input template, answer type, model."""
    from .files import check_writable, write_new
    from .jobs.scaffold import scaffold

    if output.exists():
        raise OutputError(f"{output}: already exists; opro init never overwrites a file (choose another with -o)")
    check_writable(output, "spec")
    guessed = scaffold(data, model, output_field)
    write_new(output, guessed.text)
    kind = f"label, {len(guessed.choices)} choices" if guessed.choices else guessed.answer_type
    for line in (
        f"wrote {output}: task {guessed.name}, {guessed.examples} examples; input {', '.join(guessed.inputs)}; "
        f"output {guessed.output} ({kind})",
        f"next: opro validate {output} --data {data}",
        f"      opro optimize {output} --data {data} -o best.json",
    ):
        out.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command()
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
    from .jobs import optimize as run_optimize
    from .reports.live import Display
    from .reports.summaries import optimize_summary, plan_json, plan_table

    options = _call_options(cache and not dry_run, cache_dir, concurrency, retries, max_calls=max_calls, max_cost=max_cost)
    if dry_run:
        trainer = OptimizeJob(spec, data, output, val, resume, seed, epochs, options, budget=_budget(budget)).prepare()
        if json_plan:
            out.print_json(plan_json(trainer))
            return
        out.print(plan_table(trainer))
        out.print("dry run: no LM call made, nothing written.", highlight=False)
        return
    started = time.perf_counter()
    display = Display(out, _placeholder_usage(), f"optimising {spec.name}", quiet)
    prepared: list[Any] = []

    def on_start(trainer: Any) -> None:
        prepared.append(trainer)
        display.usage, display.concurrency = trainer.lm.usage, trainer.lm.concurrency_text
        if not quiet:  # --quiet keeps stderr for the one line a stop prints; the summary shows budget and spend
            out.print(trainer.plan.describe(), highlight=False, soft_wrap=True)

    try:
        with display:
            artifact = run_optimize(spec, data, output, validation=val, resume=resume, seed=seed, epochs=epochs,
                                    budget=_budget(budget), options=options, on_progress=display.update,
                                    on_start=on_start)
    except (KeyboardInterrupt, ProviderError) as exc:
        if prepared and prepared[0].best_so_far() is not None:
            saved = f"best prompt so far written to {output}; continue with --resume"  # one line with the stop
            raise (KeyboardInterrupt(saved) if isinstance(exc, KeyboardInterrupt) else type(exc)(f"{exc} ({saved})")) from None
        raise
    table, notes = optimize_summary(artifact, time.perf_counter() - started, output)
    out.print(table)
    for note in notes:
        err.print(note, highlight=False)


class ResultFormat(str, Enum):
    table = "table"
    json = "json"
    junit = "junit"
    jsonl = "jsonl"


@app.command("eval")
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
    min_score: Optional[float] = typer.Option(None, "--min-score", min=0, max=1, help="Exit 1 if the score is below this (0-1)."),
    cache: bool = CacheOpt,
    cache_dir: Optional[Path] = CacheDirOpt,
    concurrency: Optional[int] = ConcurrencyOpt,
    retries: int = RetriesOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Score an artifact's prompt on held-out data (exit 1 below --min-score)."""
    from .artifact import load_artifact
    from .errors import InputError, QualityGateError
    from .files import check_writable
    from .jobs import evaluate
    from .reports.formats import EvalReport, file_format
    from .reports.live import Display
    from .reports.summaries import eval_table

    requested = result_format.value if result_format else None
    files = [(path, file_format(path, requested)) for path in output or []]
    to_stdout = requested if not output and requested not in (None, "table") else None  # else the table
    if json_summary and to_stdout:
        raise InputError(f"--json and --format {to_stdout} both print on stdout; write the results with -o FILE")
    if to_stdout == "jsonl":
        raise InputError("--format jsonl is for files: add -o FILE")
    for path, _ in files:
        check_writable(path, "results file")
    artifact = load_artifact(artifact_path)
    lm = _call_options(cache, cache_dir, concurrency, retries).make_lm(artifact.task_spec().optimizer.concurrency)
    started = time.perf_counter()
    machine = json_summary or to_stdout is not None
    near = files[0][0] if files else None  # results go to disk as they come, next to the first -o file
    with Display(out, lm.usage, f"evaluating {artifact_path.name}", quiet or machine, lm.concurrency_text) as display:
        result = evaluate(artifact, data, model=model, baseline=baseline, lm=lm, on_progress=display.update,
                          rows_near=near)
    against = result.baseline
    report = EvalReport.build(artifact_path, artifact, data, result, min_score, against, time.perf_counter() - started)
    try:
        for path, fmt in files:
            report.write(path, fmt)
            if not quiet:
                err.print(f"wrote {fmt} results to {path}", markup=False, highlight=False, soft_wrap=True)
        if json_summary:
            typer.echo(json.dumps(report.summary()))
        elif to_stdout == "json":
            typer.echo(json.dumps(report.document(), indent=2, ensure_ascii=False))
        elif to_stdout == "junit":
            typer.echo(report.junit(), nl=False)
        else:
            out.print(eval_table(artifact_path, result, report.seconds, against))
    finally:
        result.rows.close()
        if against is not None:
            against.a.rows.close()
    if not report.passed:
        assert min_score is not None
        raise QualityGateError(f"score {result.score * 100:.1f}% is below --min-score {min_score * 100:.1f}%")


@app.command()
@user_errors
def validate(
    spec: Path = typer.Argument(..., help="Task spec (YAML)."),
    data: Optional[list[Path]] = typer.Option(None, "--data", "-d", metavar="FILE", help="A data file (JSONL) to check against the spec. Repeatable."),
) -> None:
    """Check a spec and its data files without calling any model: list every problem (exit 2 if any)."""
    from .errors import InputError
    from .jobs.validating import validate as check

    found = check(spec, data or [])
    for problem in found.problems:
        out.print(problem, markup=False, highlight=False, soft_wrap=True)
    if found.note:
        err.print(f"note: {found.note}", markup=False, highlight=False, soft_wrap=True)
    if not found.ok:
        count = len(found.problems)
        raise InputError(f"{count} problem{'s' if count > 1 else ''} found")
    assert found.spec is not None
    out.print(f"{spec}: ok (task {found.spec.name}, model {found.spec.model.name})", markup=False, highlight=False,
              soft_wrap=True)
    for checked in found.data:
        out.print(f"{checked.path}: ok ({checked.examples} examples)", markup=False, highlight=False, soft_wrap=True)


@app.command()
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
) -> None:
    """Score two artifacts' prompts on the same data: per-example agreement and the paired 95% interval of B - A."""
    from .errors import QualityGateError
    from .jobs import CompareJob
    from .progress import Progress
    from .reports.formats import compare_summary, interval_text
    from .reports.live import Display
    from .reports.summaries import compare_table

    job = CompareJob(a, b, data, _call_options(cache, cache_dir, concurrency, retries), model)
    started = time.perf_counter()
    progress = Progress(phase="comparing", step=0, total_steps=0, epoch=0, total=job.total)
    with Display(out, job.lm.usage, f"comparing {a.name} and {b.name}", quiet or json_summary, job.lm.concurrency_text) as display:
        display.update(progress)

        def tick(_: Any) -> None:
            progress.done += 1

        comparison = job.run(tick)
    seconds = time.perf_counter() - started
    if json_summary:
        typer.echo(json.dumps(compare_summary(comparison, a, b, data, seconds)))
    else:
        out.print(compare_table(a, b, data, comparison, seconds))
    if fail_if_worse and comparison.difference.worse:
        raise QualityGateError(f"{b} is worse than {a}: {interval_text(comparison.difference)}")


@app.command()
@user_errors
def report(
    artifact_path: Path = typer.Argument(..., metavar="ARTIFACT", help="Artifact written by `opro optimize`."),
    html: Optional[Path] = typer.Option(None, "--html", help="Also write a self-contained HTML report (chart + table)."),
    svg: Optional[Path] = typer.Option(None, "--svg", help="Also write the score chart alone, as SVG."),
    width: int = typer.Option(60, "--width", min=20, help="Characters of each candidate's instructions in the table."),
) -> None:
    """Show an optimisation's history: every candidate with its score, the best so far, and the score curve."""
    from .artifact import load_artifact
    from .files import check_writable
    from .reports.charts import save_html, save_svg
    from .reports.history import terminal_report

    for path, what in ((html, "HTML report"), (svg, "SVG chart")):
        if path is not None:
            check_writable(path, what)
    artifact = load_artifact(artifact_path)
    out.print(terminal_report(artifact, width, out.width))
    for path, save in ((html, save_html), (svg, save_svg)):
        if path is not None:
            save(path, artifact)
            err.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)


def _budget(value: Optional[str]) -> int | str | None:
    """--budget: a whole number of calls or a preset name."""
    if value is None or value in ("light", "medium", "heavy"):
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    from .errors import InputError

    raise InputError(f"--budget {value!r}: expected a number of LM calls or light, medium or heavy")


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    """Turn SIGTERM into SIGINT, which event_loop.run turns into a clean cancel of the run (as for Ctrl-C)."""
    signal.raise_signal(signal.SIGINT)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _placeholder_usage() -> Any:
    from .lm import Usage

    return Usage()


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
