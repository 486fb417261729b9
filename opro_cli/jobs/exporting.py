"""`opro export` as a job: an artifact's prompt written in a format another tool loads (a Dotprompt `.prompt` file
for litellm, a messages JSON file for any language) or registered in MLflow's prompt registry.

Each rendering is checked before it is written: loaded back through the other tool's own code on the artifact's
shots and on any `check` data, it must give the scored messages and parameters (`opro_cli.use`). A format that
cannot carry the prompt exactly is refused (`ExportRefused`, exit 2) and nothing is written or registered.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..artifact import Artifact, load_artifact
from ..data import Example, iter_examples, scan_dataset
from ..errors import InputError
from ..files import check_writable, write_atomic
from ..use.exports import CheckRow, check_rows, held_out_score
from ..use.loaded import LoadedPrompt

FORMATS = ("dotprompt", "messages")


@dataclass(frozen=True)
class Exported:
    """What an export wrote: the file, its format, and how many rows were checked through the other tool."""

    output: Path
    format: str
    checked: int


def _prompt(artifact: str | Path | Artifact) -> LoadedPrompt:
    if isinstance(artifact, Artifact):
        return LoadedPrompt(artifact)
    return LoadedPrompt(load_artifact(artifact), source=str(artifact))


def _rows(p: LoadedPrompt, check: str | Path | None) -> Iterator[CheckRow]:
    data: Iterator[Example] = iter(())
    if check is not None:
        scan_dataset(check, p.spec, inputs_only=True)  # every line checked first: `file:line: field: message`
        data = iter_examples(check, p.spec, inputs_only=True)
    return check_rows(p, data)


def _test(p: LoadedPrompt, scores: str | Path | None) -> dict[str, Any] | None:
    return held_out_score(scores, p) if scores is not None else None


def export(
    artifact: str | Path | Artifact,
    format: str,
    output: str | Path,
    *,
    check: str | Path | None = None,
    scores: str | Path | None = None,
) -> Exported:
    """Write the artifact's prompt as `format` (dotprompt or messages) to `output`, checked on the shots and every
    row of `check` (JSONL of the template's fields). `scores` is `opro eval --json`'s output for this prompt on
    held-out data: its score is recorded as the test score."""
    if format not in FORMATS:
        raise InputError(f"--format {format!r}: expected {' or '.join(FORMATS)}")
    output = Path(output)
    check_writable(output, f"{format} file")
    p = _prompt(artifact)
    test = _test(p, scores)
    if format == "dotprompt":
        from ..use import dotprompt

        text = dotprompt.render(p, test)
        checked = dotprompt.check(text, p, _rows(p, check), prompt_id=output.stem or "prompt")
    else:
        from ..use import messages_file

        text = messages_file.render(p, test)
        checked = messages_file.check(text, p, _rows(p, check))
    write_atomic(output, text)
    return Exported(output, format, checked)


def register(
    artifact: str | Path | Artifact,
    name: str,
    *,
    alias: str | None = None,
    check: str | Path | None = None,
    scores: str | Path | None = None,
) -> Any:
    """Register the artifact's prompt as a new version of chat prompt `name` in MLflow's prompt registry
    (`MLFLOW_TRACKING_URI`) and move `alias` to it; checked first as `export` is. Returns a `Registered`."""
    from ..use import mlflow_registry

    if not name.strip():
        raise InputError("--name: give the prompt's name in the registry")
    mlflow_registry.import_mlflow()  # the missing extra is said before anything else is read
    p = _prompt(artifact)
    test = _test(p, scores)
    return mlflow_registry.register(p, name, alias, _rows(p, check), test)
