"""`opro report`: what an optimisation did, read back from the artifact's history.

`history_rows` flattens the history into one row per scored candidate (the seed prompt is step 0);
`curve` gives the per-step series the terminal sparkline and the SVG chart (charts.py) both draw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..artifact import Artifact
from ..spec import GRADED_TYPES
from ..search.state import Candidate, StepRecord
from .live import pct

SPARKS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class HistoryRow:
    """One scored prompt: at step 0 the seed prompt, then each candidate of each step."""

    step: int
    epoch: int
    instructions: str
    shots: int
    score: float | None  # None: the step scored no new candidate
    best_so_far: float
    new_best: bool
    examples: int = 0  # validation examples the score is over: 8 on a screening, the whole pool once verified
    verdict: str = ""  # in the end-of-run verification: "verified", or "passed over" (behind in the leaders' race)


@dataclass(frozen=True)
class Curve:
    """Per step (0 = seed prompt): best validation score so far, every candidate's score, the batch reward."""

    steps: list[int]
    best: list[float]
    candidates: list[tuple[int, float, str]]  # (step, score, instructions)
    batch_rewards: list[tuple[int, float]]


def history_rows(artifact: Artifact) -> list[HistoryRow]:
    """The rows of `opro report`. A score is shown with the examples it is over, since a screening's 8 and the
    whole pool are not equally sure; the verification's rows say which prompts were verified on the whole pool
    and which one the leaders' race passed over."""
    seed_instructions = artifact.task_spec().prompt.instructions
    scores = artifact.scores
    best = scores.seed_validation
    rows = [HistoryRow(0, 0, seed_instructions, 0, best, best, False, scores.seed_examples or 0)]
    racing = scores.screened is not None  # older artifacts recorded no verification step
    for record in artifact.history:
        if not record.candidates:
            rows.append(HistoryRow(record.step, record.epoch, "", 0, None, record.best_score, False))
        verification = racing and record.screened == 0
        new = _new_best(record) if record.best_score > best else None
        for candidate in record.candidates:
            new_best = candidate is new
            verdict = ("verified" if candidate.promoted else "passed over") if verification else ""
            rows.append(
                HistoryRow(record.step, record.epoch, candidate.prompt.instructions, len(candidate.prompt.shots),
                           candidate.score, record.best_score, new_best, candidate.examples, verdict)
            )
        best = record.best_score
    return rows


def _new_best(record: StepRecord) -> Candidate | None:
    """The candidate that became the best prompt in a step: the accepted one, else (older artifacts) the first
    that scored the step's best. A prompt the leaders' race passed over may tie with the winner on its score."""
    for candidate in record.candidates:
        if candidate.accepted:
            return candidate
    return next((c for c in record.candidates if c.score == record.best_score), None)


def curve(artifact: Artifact) -> Curve:
    seed = artifact.scores.seed_validation
    steps, best = [0], [seed]
    candidates = [(0, seed, artifact.task_spec().prompt.instructions)]
    batch = []
    for record in artifact.history:
        steps.append(record.step)
        best.append(record.best_score)
        batch.append((record.step, record.batch_reward))
        candidates.extend((record.step, c.score, c.prompt.instructions) for c in record.candidates)
    return Curve(steps, best, candidates, batch)


def proposals_line(artifact: Artifact) -> str:
    """How many new instructions the optimizer model wrote in a usable form: 0 means only the shots changed."""
    asked = sum(record.proposals for record in artifact.history)
    kept = sum(record.proposals_kept for record in artifact.history)
    return f"new instructions: {kept} of {asked} proposals usable"


def confidence_lines(artifact: Artifact) -> list[str]:
    """How sure the result is: the best prompt's score with its 95 % interval over the whole validation pool,
    its paired lead over the seed prompt, and how much of the search reached past the screening minibatch.
    Empty for artifacts written before these were recorded."""
    scores = artifact.scores
    lines = []
    if scores.best_ci95 is not None and scores.best_examples:
        low, high = scores.best_ci95
        lines.append(f"best prompt: {pct(scores.best_validation)} on {scores.best_examples} validation examples "
                     f"(95% interval {pct(low)} to {pct(high)})")
    if scores.best_vs_seed is not None and scores.best_vs_seed.examples:
        versus = scores.best_vs_seed
        if versus.best_only or versus.seed_only:
            if artifact.task_spec().reward.type in GRADED_TYPES:  # partial rewards: which prompt scored higher
                lines.append(f"against the seed prompt on the same {versus.examples} examples: the best prompt scored "
                             f"higher on {versus.best_only}, the seed on {versus.seed_only} "
                             f"(sign test p = {versus.p_value:.2g})")
            else:
                lines.append(f"against the seed prompt on the same {versus.examples} examples: {versus.best_only} "
                             f"right only with the best prompt, {versus.seed_only} only with the seed "
                             f"(sign test p = {versus.p_value:.2g})")
        else:
            lines.append("the best prompt is the seed prompt: no candidate beat it in a paired test")
    if scores.screened is not None:
        lines.append(f"{scores.screened} candidates screened, {scores.promoted} raced on more examples; "
                     f"{scores.spent} of {scores.budget} planned LM calls")
    return lines


def sparkline(values: list[float], max_chars: int = 60) -> str:
    """Scores as block characters on a fixed 0-1 scale, so 100% always looks full; long series are squeezed
    into `max_chars` by taking the highest value of each stretch."""
    if len(values) > max_chars:
        size = -(-len(values) // max_chars)
        values = [max(values[i : i + size]) for i in range(0, len(values), size)]
    return "".join(SPARKS[round(max(0.0, min(1.0, v)) * (len(SPARKS) - 1))] for v in values)


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def shorten(text: str, width: int) -> str:
    """One line of at most `width` characters; control characters (a model may write escape sequences) go."""
    text = " ".join(_CONTROL.sub("", text).split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


FIXED_COLUMNS = 43  # step, shots, score, examples scored, best so far, with padding and edges
MARKS = {"verified": "v", "passed over": "r"}
LEGEND = {"*": "* = new best", "v": "v = verified on the whole pool", "r": "r = passed over by the leaders' race"}


def mark(row: HistoryRow) -> str:
    """The sign after a score: * a new best, else the verification's verdict."""
    return "*" if row.new_best else MARKS.get(row.verdict, " ")


def terminal_report(artifact: Artifact, width: int = 60, console_width: int = 80) -> Group:
    """The history table and the score curves, as rich renderables: one line per candidate, the instructions cut
    to fit `console_width` (and at most `width` characters)."""
    instructions_width = max(12, min(width, console_width - FIXED_COLUMNS))
    table = Table(title=Text(f"opro report: {artifact.task}"), title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("step", justify="right", no_wrap=True)
    table.add_column("candidate instructions", no_wrap=True, width=instructions_width)
    table.add_column("shots", justify="right", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("on", justify="right", no_wrap=True)
    table.add_column("best", justify="right", no_wrap=True)
    rows = history_rows(artifact)
    for row in rows:
        text = row.instructions or "(no new candidate)"
        table.add_row("seed" if row.step == 0 else str(row.step), Text(shorten(text, instructions_width)),
                      str(row.shots), f"{pct(row.score)} {mark(row)}", str(row.examples or ""), pct(row.best_so_far),
                      style="bold" if row.new_best else None)
    data = curve(artifact)
    room = max(10, console_width - 50)
    lines = Text()
    lines.append(f"best so far   {sparkline(data.best, room)}  {pct(data.best[0])} -> {pct(data.best[-1])}")
    if data.batch_rewards:
        rewards = [r for _, r in data.batch_rewards]
        # One column to the right: batch rewards start at step 1, the best-so-far line at step 0.
        lines.append(f"\nbatch reward   {sparkline(rewards, room)}  (training batches, steps 1-{len(rewards)})")
    lines.append(f"\n{proposals_line(artifact)}")
    for line in confidence_lines(artifact):
        lines.append(f"\n{line}")
    shown = {mark(row) for row in rows}
    legend = ["seed = the spec's seed prompt", "on = validation examples scored"]
    legend += [text for sign, text in LEGEND.items() if sign in shown]
    lines.append(f"\n{len(artifact.history)} steps, stopped: {artifact.run.stopped}; {', '.join(legend)}")
    return Group(table, Text(""), lines, Text(""), failures_text(artifact, console_width))


def failures_text(artifact: Artifact, console_width: int = 80) -> Text:
    """The best prompt's worst examples with their rewards' reasons, or what it takes to see them."""
    failures = artifact.failures
    if failures is None:
        return Text("worst examples: not kept in this artifact (runs since issue 35 keep them unless "
                    "optimizer.failures is 0); `opro eval ARTIFACT --data FILE -o rows.jsonl` writes every example "
                    "with its reward and reason", style="dim")
    if not failures:
        return Text("worst examples: none, the best prompt earned full credit on every example it was scored on")
    template = artifact.task_spec().prompt.input
    room = max(20, console_width - 12)
    out = Text(f"worst examples of the best prompt ({len(failures)}):", style="bold")
    for p in failures:
        answer = p.answer if p.answer is not None else f"(unreadable) {p.raw}"
        out.append(f"\n  reward {p.reward:.2f}  input: {shorten(template.format_map(p.inputs), room)}")
        out.append(f"\n       answer: {shorten(answer, room)}\n       expected: {shorten(p.expected, room)}")
        out.append(f"\n       why: {shorten(p.reason or '-', room)}")
    return out
