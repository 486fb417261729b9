"""`opro validate`: every problem of a spec and its data files at once, without any LM call.

Loading stops at the first problem (a run must not start on bad input); validation goes on and lists them
all, each as 'file:line: field: message', so one CI run shows everything there is to fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ..data import dataset_problems
from ..errors import InputError
from ..scoring.rewards import normalize
from ..spec import AnswerSpec, PromptSpec, Reward, TaskSpec, read_spec, spec_problems


@dataclass
class DataCheck:
    path: Path
    examples: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class Validation:
    """What `opro validate` found; `spec` is None when the spec itself has problems."""

    spec_path: Path
    spec: TaskSpec | None
    spec_problems: list[str]
    data: list[DataCheck]
    note: str = ""

    @property
    def problems(self) -> list[str]:
        return [*self.spec_problems, *(problem for check in self.data for problem in check.problems)]

    @property
    def ok(self) -> bool:
        return not self.problems


def validate(spec_path: Path, data_paths: list[Path]) -> Validation:
    """Check the spec, then each data file against the fields its prompt needs (and its label set)."""
    try:
        raw = read_spec(spec_path)
    except InputError as exc:
        return Validation(spec_path, None, [str(exc)], [], _skipped(data_paths))
    if not isinstance(raw, dict):
        return Validation(spec_path, None, [f"{spec_path}: the spec must be a YAML mapping of fields"], [],
                          _skipped(data_paths))
    problems = spec_problems(raw, spec_path)
    spec = TaskSpec.model_validate(raw) if not problems else None
    checker = spec or _valid_sections(raw)
    if checker is None:
        return Validation(spec_path, None, problems, [], _skipped(data_paths, "its prompt section has problems"))
    return Validation(spec_path, spec, problems, [_check_data(path, checker) for path in data_paths])


def _skipped(data_paths: list[Path], why: str = "the spec cannot be read") -> str:
    return f"data files not checked: {why}" if data_paths else ""


def _valid_sections(raw: dict[str, Any]) -> TaskSpec | None:
    """A spec made of the sections that are valid on their own (prompt required, answer and reward when valid):
    enough to check the data while other sections are wrong. Only `prompt`, `answer`, `reward` are read."""
    try:
        prompt = PromptSpec.model_validate(raw.get("prompt"))
    except ValidationError:
        return None
    sections: dict[str, Any] = {"prompt": prompt}
    for name, validator in (("answer", TypeAdapter(AnswerSpec)), ("reward", TypeAdapter(Reward))):
        if name in raw:
            try:
                sections[name] = validator.validate_python(raw[name])
            except ValidationError:
                pass
    return TaskSpec.model_construct(**sections)


def _check_data(path: Path, spec: TaskSpec) -> DataCheck:
    check = DataCheck(path)
    try:
        check.problems = dataset_problems(path, spec)
    except InputError as exc:  # the file cannot be read at all
        check.problems = [str(exc)]
        return check
    rows = list(_rows(path))
    bad_lines = {_line_of(problem, path) for problem in check.problems if _has_line(problem, path)}
    check.examples = len(rows) - len(bad_lines)
    check.problems = sorted([*check.problems, *_label_problems(path, rows, spec)], key=lambda p: _line_of(p, path))
    return check


def _rows(path: Path) -> list[tuple[int, Any]]:
    """(line, parsed JSON or None) for every non-blank line."""
    rows = []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if line.strip():
            try:
                rows.append((number, json.loads(line)))
            except (ValueError, UnicodeDecodeError):
                rows.append((number, None))
    return rows


def _label_problems(path: Path, rows: list[tuple[int, Any]], spec: TaskSpec) -> list[str]:
    """Expected answers outside a declared label set (of the answer, or of one of several fields): no answer
    can ever match them."""
    sets: dict[str, list[str]] = {}
    if spec.prompt.several:
        sets = {name: kind.choices for name, kind in (spec.answer.outputs or {}).items()
                if kind.type == "label" and isinstance(kind.choices, list)}
    elif spec.answer.type == "label" and isinstance(spec.answer.choices, list):
        sets = {spec.prompt.output_fields[0]: spec.answer.choices}
    normalized = getattr(spec.reward, "normalize", None)
    steps = normalized if isinstance(normalized, list) else ["strip", "lowercase"]
    problems = []
    for name, choices in sets.items():
        allowed = {normalize(choice, steps) for choice in choices}
        for number, record in rows:
            value = record.get(name) if isinstance(record, dict) else None
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                text = value if isinstance(value, str) else json.dumps(value)
                if normalize(text, steps) not in allowed:
                    problems.append(f"{path}:{number}: {name}: {text!r} is not one of the choices ({', '.join(choices)})")
    return problems


def _has_line(problem: str, path: Path) -> bool:
    return problem.startswith(f"{path}:") and problem[len(str(path)) + 1 :].split(":")[0].isdigit()


def _line_of(problem: str, path: Path) -> int:
    return int(problem[len(str(path)) + 1 :].split(":")[0]) if _has_line(problem, path) else 0
