"""How output looks: rich on a terminal, plain text (no ANSI control sequence at all) under NO_COLOR or when
the output is not a terminal (rich already turns styles off for pipes and files; NO_COLOR is honoured here
more strictly than rich does by itself, which keeps bold and cursor movement)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from rich.console import Console


def plain_output_requested(environ: Mapping[str, str] | None = None) -> bool:
    """NO_COLOR set to anything non-empty (https://no-color.org)."""
    return bool((os.environ if environ is None else environ).get("NO_COLOR"))


def make_console(stderr: bool = False) -> Console:
    """A console for stdout or stderr; under NO_COLOR it is a plain, non-interactive one (no live display)."""
    if plain_output_requested():
        return Console(stderr=stderr, color_system=None, force_terminal=False, force_interactive=False)
    return Console(stderr=stderr)


def plain_help() -> None:
    """Make typer's rich help plain under NO_COLOR, even where typer forces a terminal (FORCE_COLOR, CI)."""
    if plain_output_requested():
        import typer.rich_utils

        typer.rich_utils.COLOR_SYSTEM = None
        typer.rich_utils.FORCE_TERMINAL = False
