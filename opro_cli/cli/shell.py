"""The shell every command shares: the typer app, the consoles, user errors turned into one line and an exit
code, and the options several commands take. Heavy modules (pydantic models, litellm) are imported inside
commands so `opro --help` starts fast."""

from __future__ import annotations

import functools
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

    load_env_file(Path(".env"))
    consoles.refresh()


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
QuietOpt = typer.Option(
    False, "--quiet", "-q", help="No live display: one plain line per optimisation step, then the summary (for CI logs)."
)


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
