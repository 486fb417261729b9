"""`opro export`: the artifact's prompt as a file another tool loads, or a version in MLflow's prompt registry;
flags in, the job called, one line out."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .shell import consoles, user_errors


@user_errors
def export(
    artifact_path: Path = typer.Argument(..., metavar="ARTIFACT", help="Artifact written by `opro optimize`."),
    fmt: Optional[str] = typer.Option(
        None, "--format", "-f", metavar="dotprompt|messages",
        help="dotprompt: a .prompt file for litellm's Dotprompt integration; messages: one JSON file (messages "
        "with {field} placeholders, parameters, response schema, how to read the answer).",
    ),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="The file to write (with --format)."),
    to: Optional[str] = typer.Option(None, "--to", metavar="mlflow", help="Register in a prompt registry instead: mlflow (MLFLOW_TRACKING_URI)."),
    name: Optional[str] = typer.Option(None, "--name", help="With --to mlflow: the prompt's name in the registry."),
    alias: Optional[str] = typer.Option(None, "--alias", help="With --to mlflow: move this alias (e.g. production) to the new version."),
    check: Optional[Path] = typer.Option(
        None, "--check", metavar="DATA.jsonl",
        help="Also check these rows (the template's fields) through the other tool; the artifact's shots always are.",
    ),
    scores: Optional[Path] = typer.Option(
        None, "--scores", metavar="EVAL.json",
        help="`opro eval --json` output (or -o results.json) of this prompt on held-out data: recorded as its test score.",
    ),
) -> None:
    """Export the prompt exactly as it was scored: checked through the other tool's own code, refused (exit 2,
    nothing written) where the format cannot carry it."""
    from ..errors import InputError

    if to is not None:
        if to != "mlflow":
            raise InputError(f"--to {to!r}: expected mlflow")
        if fmt is not None or output is not None:
            raise InputError("--to mlflow registers the prompt: give --name, not --format or -o")
        if not name:
            raise InputError("--to mlflow needs --name NAME (the prompt's name in the registry)")
        from ..jobs.exporting import register

        done = register(artifact_path, name, alias=alias, check=check, scores=scores)
        moved = f", alias {done.alias!r} moved to it" if done.alias else ""
        what = "kept (the latest version holds this prompt already; its tags updated)" if done.reused else "registered"
        consoles.err.print(f"{what} {done.name!r} version {done.version}{moved} in {done.uri} "
                           f"({done.checked} rows checked through MLflow's format); load it with "
                           f"mlflow.genai.load_prompt({done.reference!r})", highlight=False, markup=False, soft_wrap=True)
        return
    if name is not None or alias is not None:
        raise InputError("--name and --alias go with --to mlflow")
    if fmt is None or output is None:
        raise InputError("give --format dotprompt|messages and -o FILE, or --to mlflow --name NAME")
    from ..jobs.exporting import export as run_export

    done = run_export(artifact_path, fmt, output, check=check, scores=scores)
    consoles.err.print(f"wrote {done.output} ({done.format}; {done.checked} rows checked through "
                       f"{'litellm' if done.format == 'dotprompt' else 'the file'})",
                       highlight=False, markup=False, soft_wrap=True)
