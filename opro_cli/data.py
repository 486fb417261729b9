"""JSONL datasets: one example per line, checked against the fields the spec needs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError
from .spec import FieldsReward, NumericReward, TaskSpec


@dataclass(frozen=True)
class Example:
    """One dataset line: the input fields the template uses, and the expected answer as text (with several
    output fields, the JSON text of {field: value}, in the spec's order). `record` is the whole line, for a
    `python` reward; `path` the file it came from, for messages."""

    line: int
    inputs: dict[str, str]
    expected: str
    record: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    path: Path | None = field(default=None, compare=False, repr=False)


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


@dataclass(frozen=True)
class DataSummary:
    """What a streamed pass over a data file learns without keeping its examples: enough to start an evaluation."""

    path: Path
    examples: int
    sha256: str
    answers: frozenset[str]  # the distinct expected answers, for `choices: infer`
    inputs_only: bool = False  # checked for the template's fields only (rows to answer, not to score)


def scan_dataset(path: str | Path, spec: TaskSpec, inputs_only: bool = False) -> DataSummary:
    """Check every line (failing on the first bad one, before any call) in constant memory. `inputs_only`: the
    rows need only the template's fields (answering unlabelled data); their expected answer is then ''."""
    path = Path(path)
    digest = hashlib.sha256()
    count, answers = 0, set()
    for example in _examples(path, spec, digest, problems=None, inputs_only=inputs_only):
        count += 1
        answers.add(example.expected)
    if count == 0:
        raise InputError(f"{path}: the dataset is empty")
    return DataSummary(path, count, digest.hexdigest(), frozenset(answers), inputs_only)


def iter_examples(path: str | Path, spec: TaskSpec, inputs_only: bool = False) -> Iterator[Example]:
    """The examples one by one, read as they are needed (check the file with `scan_dataset` first)."""
    return _examples(Path(path), spec, hashlib.sha256(), problems=None, inputs_only=inputs_only)


def _scan(path: Path, spec: TaskSpec) -> tuple[list[Example], list[str], str]:
    digest = hashlib.sha256()
    problems: list[str] = []
    examples = list(_examples(path, spec, digest, problems))
    if not examples and not problems:
        problems.append(f"{path}: the dataset is empty")
    return examples, problems, digest.hexdigest()


def _examples(
    path: Path, spec: TaskSpec, digest: Any, problems: list[str] | None, inputs_only: bool = False
) -> Iterator[Example]:
    """Parse line by line, hashing the bytes; a bad line goes to `problems`, or raises when that is None."""
    fields = spec.prompt.input_fields  # parsed from the template once per file, not once per line
    needed = fields if inputs_only else [*fields, *spec.prompt.output_fields]
    outputs = spec.prompt.output_fields if spec.prompt.several else None
    numeric = set() if inputs_only else numeric_fields(spec)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        for number, line in enumerate(_lines(handle, digest), start=1):
            if not line.strip():
                continue
            record, problem = _parse_line(line, needed, numeric)
            if problem:
                if problems is None:
                    raise InputError(f"{path}:{number}: {problem}")
                problems.append(f"{path}:{number}: {problem}")
                continue
            inputs = {name: _as_text(record[name]) for name in fields}
            if inputs_only:
                expected = ""
            elif outputs is None:
                expected = _as_text(record[spec.prompt.output_fields[0]])
            else:
                expected = json.dumps({name: _as_text(record[name]) for name in outputs}, ensure_ascii=False)
            yield Example(number, inputs, expected, record, path)


def _lines(handle: Any, digest: Any) -> Iterator[bytes]:
    """Lines as `bytes.splitlines` cuts them (at \\r, \\n or \\r\\n), read in chunks of a MiB."""
    rest = b""
    for chunk in iter(lambda: handle.read(1 << 20), b""):
        digest.update(chunk)
        lines = (rest + chunk).splitlines(keepends=True)
        rest = lines.pop() if lines and not lines[-1].endswith((b"\n", b"\r")) else b""
        if rest == b"" and lines and lines[-1].endswith(b"\r"):
            rest = lines.pop()  # a CR ending a chunk may be the first half of CR LF
        yield from (line.rstrip(b"\r\n") for line in lines)
    if rest:
        yield from rest.splitlines()


def parse_record(line: bytes) -> tuple[dict[str, Any], str | None]:
    """One JSONL line as a JSON object, or the problem with it."""
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return {}, f"not valid JSON: {getattr(exc, 'msg', exc)}"
    if not isinstance(record, dict):
        return {}, "each line must be a JSON object"
    return record, None


def _parse_line(line: bytes, needed: list[str], numeric: set[str]) -> tuple[dict[str, Any], str | None]:
    record, problem = parse_record(line)
    if problem:
        return record, problem
    problem = _field_problem(record, needed, numeric)
    return ({}, problem) if problem else (record, None)


def _field_problem(record: dict[str, Any], needed: list[str], numeric: set[str]) -> str | None:
    for name in needed:
        if name not in record:
            return f"{name}: missing field"
        if record[name] is None or isinstance(record[name], (dict, list)):
            return f"{name}: must be a string or number"
        if name in numeric and not _is_number(record[name]):
            return f"{name}: {record[name]!r} is not a number (the reward is numeric)"
    return None


def row_inputs(record: dict[str, Any], fields: list[str]) -> dict[str, str]:
    """A row's template fields as a data file's line gives them to the model (numbers as JSON text), so an
    application's row renders exactly as the same row read from a file; a bad field is an InputError."""
    if not isinstance(record, dict):
        raise InputError(f"a row must be a dict of the template's fields ({', '.join(fields)}), got {type(record).__name__}")
    problem = _field_problem(record, fields, set())
    if problem:
        raise InputError(f"row: {problem}")
    return {name: _as_text(record[name]) for name in fields}


def numeric_fields(spec: TaskSpec) -> set[str]:
    """Output fields a `numeric` reward scores: their expected values must be numbers."""
    reward, names = spec.reward, spec.prompt.output_fields
    if isinstance(reward, NumericReward):
        return set(names)
    if isinstance(reward, FieldsReward):
        return {name for name, sub in reward.fields.items() if isinstance(sub, NumericReward)}
    return set()


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    try:
        float(str(value).replace(",", ""))
    except ValueError:
        return False
    return True


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
