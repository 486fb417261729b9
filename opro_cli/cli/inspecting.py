"""The commands that call no model: `opro init` (a spec from data), `opro validate`, `opro report`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import OutputError
from .shell import consoles, user_errors


@user_errors
def init(
    data: Path = typer.Option(..., "--data", "-d", help="A dataset (JSONL) to write a spec for."),
    output: Path = typer.Option(Path("task.yaml"), "--output", "-o", help="Where to write the spec; never overwritten."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="The litellm model to prompt (default: the embedded local/smollm2)."),
    output_field: Optional[str] = typer.Option(
        None, "--output-field", help="The field holding the expected answer (default: one named like label/answer/target/..., else the last); a,b for several fields."
    ),
) -> None:
    """Write a commented task spec guessed from a dataset: output field, input template, answer type, model."""
    from ..files import check_writable, write_new
    from ..jobs.scaffold import scaffold

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
        consoles.out.print(line, markup=False, highlight=False, soft_wrap=True)


@user_errors
def validate(
    spec: Path = typer.Argument(..., help="Task spec (YAML)."),
    data: Optional[list[Path]] = typer.Option(None, "--data", "-d", metavar="FILE", help="A data file (JSONL) to check against the spec. Repeatable."),
    judge_agreement: Optional[Path] = typer.Option(
        None, "--judge-agreement", metavar="LABELLED",
        help="Grade a person's labelled answers (JSONL: the inputs, answer, score) with the spec's judge and show "
             "how far they agree. Calls the judge (cached)."),
) -> None:
    """Check a spec and its data files without calling any model: list every problem (exit 2 if any)."""
    from ..errors import InputError
    from ..jobs.validating import validate as check

    found = check(spec, data or [])
    for problem in found.problems:
        consoles.out.print(problem, markup=False, highlight=False, soft_wrap=True)
    if found.note:
        consoles.err.print(f"note: {found.note}", markup=False, highlight=False, soft_wrap=True)
    if not found.ok:
        count = len(found.problems)
        raise InputError(f"{count} problem{'s' if count > 1 else ''} found")
    assert found.spec is not None
    consoles.out.print(f"{spec}: ok (task {found.spec.name}, model {found.spec.model.name})", markup=False, highlight=False,
              soft_wrap=True)
    for checked in found.data:
        consoles.out.print(f"{checked.path}: ok ({checked.examples} examples)", markup=False, highlight=False, soft_wrap=True)
    if judge_agreement is not None:
        from ..jobs.judging import judge_agreement as agreement
        from ..reports.agreement import agreement_lines

        for line in agreement_lines(agreement(spec, judge_agreement), consoles.out.width):
            consoles.out.print(line, markup=False, highlight=False, soft_wrap=True)


@user_errors
def report(
    artifact_path: Path = typer.Argument(..., metavar="ARTIFACT", help="Artifact written by `opro optimize`."),
    html: Optional[Path] = typer.Option(None, "--html", help="Also write a self-contained HTML report (chart + table)."),
    svg: Optional[Path] = typer.Option(None, "--svg", help="Also write the score chart alone, as SVG."),
    width: int = typer.Option(60, "--width", min=20, help="Characters of each candidate's instructions in the table."),
) -> None:
    """Show an optimisation's history: every candidate with its score, the best so far, and the score curve."""
    from ..artifact import load_artifact
    from ..files import check_writable
    from ..reports.charts import save_html, save_svg
    from ..reports.history import terminal_report

    for path, what in ((html, "HTML report"), (svg, "SVG chart")):
        if path is not None:
            check_writable(path, what)
    artifact = load_artifact(artifact_path)
    consoles.out.print(terminal_report(artifact, width, consoles.out.width))
    for path, save in ((html, save_html), (svg, save_svg)):
        if path is not None:
            save(path, artifact)
            consoles.err.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)
