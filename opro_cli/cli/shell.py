"""The shell every command shares: the typer app, the consoles, user errors turned into one line and an exit
code, and the options several commands take. Heavy modules (pydantic models, litellm) are imported inside
commands so `opro --help` starts fast."""

from __future__ import annotations

import atexit
import functools
import gc
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional, TypeVar

import typer

from ..errors import EXIT_INTERRUPTED, OproError
from ..terminal import make_console, plain_help

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
plain_help()
F = TypeVar("F", bound=Callable[..., Any])
# Last of the exit handlers (the first registered): what a command writes is closed and flushed by then, and the
# interpreter's final garbage collections would walk every object litellm and pydantic made, for nothing: 4 s
# of a loaded 2-core machine after the command was done (0.3 s frozen), most of a Ctrl-C's wait.
atexit.register(gc.freeze)


class Consoles:
    """stdout and stderr, built again before each command so a NO_COLOR set in ./.env (or at run time) applies."""

    def __init__(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        self.out, self.err = make_console(), make_console(stderr=True)


consoles = Consoles()


@app.callback(epilog=EXIT_CODES_HELP)
def _before_any_command() -> None:
    # Runs before every command (not for --help): read ./.env, then build the consoles, so a NO_COLOR set
    # there (or by the caller at run time) applies. Cheap: nothing heavy is imported here.
    from ..envfile import load_env_file

    env_file = load_env_file(Path(".env"))
    consoles.refresh()
    for line in env_file.unreadable_lines:
        consoles.err.print(f"note: .env:{line}: not a KEY=VALUE line, ignored", markup=False, highlight=False)


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
            consoles.err.print(f"error: {line}", highlight=False, markup=False, soft_wrap=True)
            if getattr(exc, "details", ""):  # the user's own code failed: its traceback frames, under the line
                consoles.err.print(exc.details.rstrip("\n"), highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt as exc:
            consoles.err.print(f"interrupted: {exc}" if str(exc) else "interrupted", highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    return wrapper  # type: ignore[return-value]


CacheOpt = typer.Option(True, "--cache/--no-cache", help="Reuse LM responses from the on-disk cache.")
CacheDirOpt = typer.Option(None, "--cache-dir", help="Cache directory (default: $OPRO_CACHE_DIR, else ~/.cache/opro-cli).")
ConcurrencyOpt = typer.Option(None, "--concurrency", "-j", min=1, help="Concurrent LM calls (default: the spec's optimizer.concurrency).")
RetriesOpt = typer.Option(7, "--retries", min=0, help="Retries of a transient provider failure (429, 5xx, timeout).")
MaxCallsOpt = typer.Option(None, "--max-calls", min=1, help="Stop cleanly after this many provider calls.")
MaxCostOpt = typer.Option(None, "--max-cost", min=0, help="Stop cleanly at this cost in USD.")
QuietOpt = typer.Option(
    False, "--quiet", "-q", help="No live display: one plain line per optimisation step, then the summary (for CI logs)."
)


BatchOpt = typer.Option(
    False, "--batch", help="Send the calls not in the cache as one provider batch (about half the price; minutes to "
    "hours): for large evaluations that are not urgent. openai/, azure/, hosted_vllm/, litellm_proxy/ models.",
)
BatchStateOpt = typer.Option(
    None, "--batch-state", metavar="FILE",
    help="Where the batch ids are kept (default: next to the first -o, else in the cache directory).",
)
BatchCancelOpt = typer.Option(False, "--batch-cancel", help="Cancel the batch the state file names, and forget it.")
NoWaitOpt = typer.Option(False, "--no-wait", help="With --batch: submit, print the batch id and exit 0; run again to collect.")
BatchRetryOpt = typer.Option(
    "live", "--batch-retry", metavar="live|batch",
    help="Requests the batch reports failed or expired: retried as live calls (default) or in a follow-up batch.",
)
DryRunOpt = typer.Option(False, "--dry-run", help="Show the calls it would make, as a batch and live, with their cost; call nothing.")


def batch_options(batch: bool, state: Optional[Path], cancel: bool, no_wait: bool, retry: str, near: Optional[Path]) -> Any:
    """The --batch flags as BatchOptions (None without --batch); a flag that needs --batch fails without it."""
    from ..errors import InputError

    if not batch:
        given = [flag for flag, on in (("--batch-state", state is not None), ("--batch-cancel", cancel),
                                       ("--no-wait", no_wait), ("--batch-retry", retry != "live")) if on]
        if given:
            raise InputError(f"{given[0]} needs --batch")
        return None
    if retry not in ("live", "batch"):
        raise InputError(f"--batch-retry {retry!r}: expected live or batch")
    from ..lm.batch_run import BatchOptions

    if state is None and near is not None:
        state = near.with_name(near.name + ".batch.json")
    return BatchOptions(state=state, wait=not no_wait, cancel=cancel, retry=retry, **_poll_from_env())


def _poll_from_env() -> dict[str, float]:
    """$OPRO_BATCH_POLL (seconds, the first wait between status polls; tests shorten it)."""
    import os

    raw = os.environ.get("OPRO_BATCH_POLL")
    if raw is None:
        return {}
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        from ..errors import InputError

        raise InputError(f"OPRO_BATCH_POLL={raw!r}: expected seconds between 0 and 3600")
    return {"poll": value, "poll_max": max(value, min(60.0, value * 10))}


def call_options(cache: bool, cache_dir: Optional[Path], concurrency: Optional[int], retries: int, **budget: Any) -> Any:
    from ..jobs import CallOptions

    return CallOptions(cache=cache, cache_dir=cache_dir, concurrency=concurrency, retries=retries, **budget)


def budget_value(value: Optional[str]) -> int | str | None:
    """--budget: a whole number of calls or a preset name."""
    if value is None or value in ("light", "medium", "heavy"):
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    from ..errors import InputError

    raise InputError(f"--budget {value!r}: expected a number of LM calls or light, medium or heavy")


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    """Turn SIGTERM into SIGINT, which event_loop.run turns into a clean cancel of the run (as for Ctrl-C)."""
    signal.raise_signal(signal.SIGINT)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
