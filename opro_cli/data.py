"""JSONL datasets: one example per line, checked against the fields the spec needs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError
from .spec import TaskSpec


@dataclass(frozen=True)
class Example:
    """One dataset line: the input fields the template uses, and the expected answer as text."""

    line: int
    inputs: dict[str, str]
    expected: str


@dataclass(frozen=True)
class Dataset:
    path: Path
    examples: list[Example]
    sha256: str

    def __len__(self) -> int:
        return len(self.examples)


def load_dataset(path: str | Path, spec: TaskSpec) -> Dataset:
    """Load every line or fail on the first bad one; see `dataset_problems` to list them all."""
    path = Path(path)
    examples, problems, digest = _scan(path, spec)
    if problems:
        raise InputError(problems[0])
    return Dataset(path, examples, digest)


def dataset_problems(path: str | Path, spec: TaskSpec) -> list[str]:
    """All problems of a data file, each 'file:line: field: message' (for `opro validate`)."""
    return _scan(Path(path), spec)[1]


def read_bytes(path: Path) -> bytes:
    """The whole file, or one InputError naming it."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None


def _scan(path: Path, spec: TaskSpec) -> tuple[list[Example], list[str], str]:
    raw = read_bytes(path)
    needed = [*spec.prompt.input_fields, spec.prompt.output]
    examples: list[Example] = []
    problems: list[str] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        record, problem = _parse_line(line, needed)
        if problem:
            problems.append(f"{path}:{number}: {problem}")
            continue
        inputs = {name: _as_text(record[name]) for name in spec.prompt.input_fields}
        examples.append(Example(number, inputs, _as_text(record[spec.prompt.output])))
    if not examples and not problems:
        problems.append(f"{path}: the dataset is empty")
    return examples, problems, hashlib.sha256(raw).hexdigest()


def parse_record(line: bytes) -> tuple[dict[str, Any], str | None]:
    """One JSONL line as a JSON object, or the problem with it."""
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return {}, f"not valid JSON: {getattr(exc, 'msg', exc)}"
    if not isinstance(record, dict):
        return {}, "each line must be a JSON object"
    return record, None


def _parse_line(line: bytes, needed: list[str]) -> tuple[dict[str, Any], str | None]:
    record, problem = parse_record(line)
    if problem:
        return record, problem
    for name in needed:
        if name not in record:
            return {}, f"{name}: missing field"
        if record[name] is None or isinstance(record[name], (dict, list)):
            return {}, f"{name}: must be a string or number"
    return record, None


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
