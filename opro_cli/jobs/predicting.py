"""`opro predict` as a job: an artifact's prompt answers the rows of a data file, which need not hold the expected
answer, and each row goes to the output with its typed answer, in input order.

The calls are the ones `opro eval` makes (the same runner, request and cache keys) and the answers are read by the
same parser, so a file of predictions is what the measured prompt says. The data is streamed and the output
written as the rows come (`files.PartialLines`): memory stays flat on any size, and a run stopped by Ctrl-C, a
budget or a kill carries on with `resume`, asking nothing the response cache already holds.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import event_loop
from ..artifact import Artifact, load_artifact
from ..data import DataSummary, Example, scan_dataset
from ..errors import BudgetExhausted
from ..files import PartialLines, check_writable
from ..lm import LM, Usage
from ..progress import Progress
from ..scoring.answers import AnswerFormat
from ..scoring.runner import in_order
from .evaluating import AHEAD_PER_SLOT, examples_of, prompt_runner
from .options import CallOptions

ADDED = ("answer", "error", "fields", "raw")  # the keys a prediction adds to its input row


@dataclass
class PredictResult:
    """What a predict run did: rows in the finished file, of which answered now, and how many unreadable."""

    output: Path
    rows: int
    resumed: int  # rows a resumed run found already written
    unreadable: int  # rows answered now whose answer could not be read (`answer: null`, `error`)
    usage: Usage
    model: str


def prediction_line(record: dict[str, Any], fmt: AnswerFormat, text: str, raw: bool) -> tuple[str, bool]:
    """The output line of one row: the row as it came, plus `answer` (typed), `error` when unreadable, `fields`
    when the format asks for extra JSON fields, `raw` with the model's text; and whether it was readable."""
    parsed = fmt.parse(text)
    line = {k: v for k, v in record.items() if k not in ADDED}
    line["answer"] = fmt.typed(parsed.answer)
    if parsed.answer is None:
        line["error"] = parsed.error or "unreadable answer"
    if fmt.fields:
        line["fields"] = dict(parsed.fields)
    if raw:
        line["raw"] = text
    return json.dumps(line, ensure_ascii=False), parsed.answer is not None


def identity(artifact: Artifact, data: DataSummary, raw: bool) -> dict[str, object]:
    """What a partial output was made from: a resume must use the same prompt, model, data and line shape."""
    prompt = json.dumps(artifact.prompt.model_dump(mode="json"), sort_keys=True)
    return {"run_id": artifact.run_id, "prompt_sha256": hashlib.sha256(prompt.encode()).hexdigest(),
            "model": artifact.task_spec().model.name, "data_sha256": data.sha256, "raw": raw}


def predict(
    artifact: str | Path | Artifact,
    data: str | Path | DataSummary,
    output: str | Path,
    *,
    raw: bool = False,
    resume: bool = False,
    options: CallOptions | None = None,
    lm: LM | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> PredictResult:
    """`opro predict` as a function: every row of `data` answered by the artifact's prompt into `output` (JSONL,
    input order). Stopped early (Ctrl-C, `max_calls`/`max_cost`), the rows so far stay in `OUTPUT.partial` and
    the same call with `resume=True` finishes the file."""
    loaded = artifact if isinstance(artifact, Artifact) else load_artifact(artifact)
    summary = data if isinstance(data, DataSummary) else scan_dataset(data, loaded.task_spec(), inputs_only=True)
    check_writable(output, "predictions file")
    spec = loaded.task_spec()
    lm = lm or (options or CallOptions()).make_lm(spec.optimizer.concurrency)
    lm.write_through = True  # a kill loses no answer: the resumed run finds each one in the cache
    runner = prompt_runner(spec, summary, loaded, None, lm)
    fmt, prompt = runner.fmt, loaded.prompt
    out = PartialLines(output, identity(loaded, summary, raw), resume)
    resumed, unreadable = out.done, 0
    progress = Progress(phase="predicting", step=0, total_steps=0, epoch=0, done=out.done, total=summary.examples)
    report = on_progress or (lambda progress: None)
    report(progress)

    async def run() -> None:
        nonlocal unreadable
        examples = _skip(examples_of(summary, spec), out.done)
        reply = lambda example: runner.reply(prompt, example)  # noqa: E731 - no scoring: rows have no answer
        async for example, text in in_order(examples, reply, AHEAD_PER_SLOT * lm.concurrency):
            line, readable = prediction_line(example.record or {}, fmt, text, raw)
            out.write(line)
            unreadable += not readable
            progress.done = out.done
            report(progress)

    try:
        event_loop.run(run())
    except BudgetExhausted as exc:
        out.close()
        raise BudgetExhausted(f"{exc}; {out.done} of {summary.examples} rows in {out.partial}: run again with --resume "
                              "(and more budget) to finish") from None
    except KeyboardInterrupt:
        out.close()
        raise KeyboardInterrupt(f"{out.done} of {summary.examples} rows in {out.partial}; run the same command with "
                                "--resume to finish") from None
    except BaseException:
        out.close()
        raise
    out.finish()
    return PredictResult(Path(output), out.done, resumed, unreadable, lm.usage, runner.model.name)


def _skip(examples: Iterator[Example], count: int) -> Iterator[Example]:
    """The examples after the first `count` (written already by the run being resumed)."""
    return itertools.islice(examples, count, None)
