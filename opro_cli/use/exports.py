"""What every export shares: the record of where the prompt comes from (run id, task, scores, model, data hashes),
the rows a rendering is checked on (the artifact's shots, then any data the user gives), and the comparison that
decides whether a format carries the prompt exactly.

An export is only worth having if the app that loads it sends the request that was measured, so each renderer
is checked by loading its output back through the other tool's own code, row by row; the first row that comes
back different is refused with the reason (`errors.ExportRefused`), before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..data import Example
from ..errors import ExportRefused, InputError
from .loaded import LoadedPrompt

ROLE_FIELDS = ("role", "content")


@dataclass(frozen=True)
class CheckRow:
    """One row a rendering must reproduce, and where it comes from (for the refusal's message)."""

    where: str
    row: dict[str, str]


def check_rows(p: LoadedPrompt, data: Iterable[Example] = ()) -> Iterator[CheckRow]:
    """The artifact's shots as rows (always: their text is the prompt's own), then the given examples."""
    for number, shot in enumerate(p.prompt.shots, 1):
        yield CheckRow(f"shot {number}", {name: shot.inputs.get(name, "") for name in p.input_fields})
    for example in data:
        where = f"{example.path}:{example.line}" if example.path else f"line {example.line}"
        yield CheckRow(where, dict(example.inputs))


def scored_params(p: LoadedPrompt) -> dict[str, Any]:
    """The request's parameters as scored (everything but the model and the messages): they do not depend on
    the row."""
    probe = {name: "" for name in p.input_fields}
    return {k: v for k, v in p.request(probe).items() if k not in ("model", "messages")}


def held_out_score(results: str | Path, p: LoadedPrompt) -> dict[str, Any]:
    """The held-out score from `opro eval --json` (or its `-o results.json`) of this prompt: refused when it
    scored another task, model or prompt."""
    path = Path(results)
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not the JSON of `opro eval --json` or `-o results.json`: {exc}") from None
    summary = loaded.get("summary", loaded) if isinstance(loaded, dict) else None
    if not isinstance(summary, dict) or not isinstance(summary.get("score"), (int, float)):
        raise InputError(f"{path}: no score: expected the JSON of `opro eval --json` or `-o results.json`")
    for name, ours in (("task", p.artifact.task), ("model", p.model.name)):
        if summary.get(name) != ours:
            raise InputError(f"{path}: scored {name} {summary.get(name)!r}, not this artifact's {ours!r}")
    scored = Path(str(summary.get("artifact", "")))
    if scored.is_file() and not _same_prompt(scored, p):
        raise InputError(f"{path}: scored {scored}, whose prompt is not this artifact's")
    test = {"score": summary["score"], "examples": summary.get("examples"), "ci95": summary.get("score_ci95"),
            "data": summary.get("data")}
    return {k: v for k, v in test.items() if v is not None}


def _same_prompt(path: Path, p: LoadedPrompt) -> bool:
    from ..artifact import load_artifact

    try:
        other = load_artifact(path)
    except InputError:
        return False
    return (other.prompt, other.answer_format, other.task_spec().model.name) == (
        p.prompt, p.artifact.answer_format, p.model.name)


def provenance(p: LoadedPrompt, test: dict[str, Any] | None = None) -> dict[str, Any]:
    """Where the prompt comes from and what it scored: every export records it."""
    a = p.artifact
    scores = a.scores
    validation: dict[str, Any] = {"score": scores.best_validation, "examples": scores.best_examples,
                                  "ci95": list(scores.best_ci95) if scores.best_ci95 else None,
                                  "seed_score": scores.seed_validation}
    record: dict[str, Any] = {
        "run_id": a.run_id,
        "task": a.task,
        "model": p.model.name,
        "validation": {k: v for k, v in validation.items() if v is not None},
        "test": test,
        "data": {"train_sha256": a.data.train_sha256, "validation_sha256": a.data.validation_sha256},
        "exported_by": f"opro-cli {__version__}",
    }
    return {k: v for k, v in record.items() if v is not None}


def score_line(record: dict[str, Any]) -> str:
    """`validation 0.9 on 40 examples, test 0.85 on 200 examples (test.jsonl)`: for a file's header."""
    parts = []
    for name in ("validation", "test"):
        score = record.get(name)
        if score:
            examples = f" on {score['examples']} examples" if score.get("examples") else ""
            data = f" ({score['data']})" if score.get("data") else ""
            parts.append(f"{name} {score['score']:.4g}{examples}{data}")
    return ", ".join(parts) or "no score"


def first_difference(got: list[Any], want: list[dict[str, str]]) -> tuple[int, str]:
    """The index of the first message that comes back different, and how, in a few words."""
    got = got if isinstance(got, list) else []
    for index, (mine, theirs) in enumerate(zip(got, want)):
        mine = dict(mine) if isinstance(mine, dict) else {"role": None, "content": mine}
        if mine != theirs:
            if mine.get("role") != theirs["role"]:
                return index, f"comes back as a {mine.get('role')!r} message"
            return index, f"comes back as {_short(mine.get('content'))}, not {_short(theirs['content'])}"
    index = min(len(got), len(want))
    return index, f"comes back as {len(got)} messages, not {len(want)}"


def origin(index: int, want: list[dict[str, str]], where: str) -> str:
    """Where message `index` of a rendering comes from: the instructions, a shot (both fixed text, the same in
    every row), or the row itself."""
    if index == 0 and len(want) > 1:
        return "the instructions"
    if index < len(want) - 1:
        return f"shot {(index + 1) // 2}"
    return where


def mismatch(fmt: str, got: list[Any], want: list[dict[str, str]], where: str,
             diagnose: Callable[[str], str] = lambda text: "") -> ExportRefused:
    """The refusal for a rendering that came back different: where its first differing message comes from, and
    why (the format's known reason for that text, else what came back)."""
    index, how = first_difference(got, want)
    message = want[min(index, len(want) - 1)]
    reason = diagnose(message["content"]) or how
    return refuse(fmt, origin(index, want, where), f"message {index + 1} ({message['role']}) {reason}")


def unrenderable(fmt: str, want: list[dict[str, str]], where: str, why: Callable[[str], str],
                 failure: str) -> ExportRefused:
    """A row the other tool failed to render: the first message the format cannot carry, if one says why, else
    the tool's own error."""
    found = [index for index, message in enumerate(want) if why(message["content"])]
    if found:
        return mismatch(fmt, want[: found[0]], want, where, why)
    return refuse(fmt, where, failure)


def refuse(fmt: str, where: str, reason: str) -> ExportRefused:
    return ExportRefused(f"{fmt} export refused, nothing written: {where}: {reason}")


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 5] + '..."'
