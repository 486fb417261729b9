"""`opro init`: a commented task spec guessed from a dataset it has never seen.

The guesses, each explained in a comment of the written spec so the user can undo it:
- the output is the field named like an answer (label, answer, target, output, class, category, y, ...), else
  the last field; the other usable fields (plain names, a string or number on every line) form the input;
- a few distinct, repeated outputs make a label set; outputs that are all numbers (or strings of digits, as JSON
  data often has) make `integer` / `number` scored within a tolerance; anything else is free text, scored by
  token F1 when answers are a few words long (`guesses`);
- `--output-field a,b` makes an answer of several fields, each typed and scored as above (reward `fields`);
- the model is the embedded one unless asked otherwise.
The spec is checked as `opro validate` would before it is returned: a scaffold that does not load is a bug.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data import parse_record, read_bytes
from ..errors import InputError
from .guesses import Guess, guess

DEFAULT_MODEL = "local/smollm2"
# Field names that usually hold the expected answer, most telling first (compared without case).
OUTPUT_NAMES = (
    "label", "answer", "target", "output", "expected", "gold", "class", "category", "y",
    "labels", "answers", "targets", "outputs", "completion", "response", "result", "solution",
)
_ID_NAME = re.compile(r"(?:id|idx|uid|uuid|guid|index|key)|.*[_\-](?:id|idx|uuid)", re.IGNORECASE)
_PLAIN = re.compile(r"[A-Za-z_][\w./-]*")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


@dataclass
class FieldScan:
    """What the scan saw of one field across the dataset."""

    name: str
    values: list[Any] = field(default_factory=list)
    missing_line: int | None = None  # first line without it
    bad_line: int | None = None  # first line where it is null, an object or a list

    @property
    def usable(self) -> bool:
        return self.missing_line is None and self.bad_line is None

    def why_not(self) -> str:
        if self.missing_line is not None:
            return f"missing on line {self.missing_line}"
        return f"not a string or number on line {self.bad_line}"


@dataclass
class Scaffold:
    """The guessed spec, as YAML text with comments, and the choices behind it (for the CLI's summary)."""

    text: str
    name: str
    output: str
    inputs: list[str]
    answer_type: str
    choices: list[str]
    examples: int


@dataclass
class _Rows:
    path: Path
    records: list[tuple[int, dict[str, Any]]]
    fields: dict[str, FieldScan]


def scaffold(data_path: str | Path, model: str | None = None, output_field: str | None = None) -> Scaffold:
    """Read the dataset and guess a spec; InputError (file:line) for data it cannot use. `output_field` may
    name several fields, comma-separated: the answer is then a JSON object of those fields."""
    rows = _read(Path(data_path))
    wanted = [name.strip() for name in output_field.split(",")] if output_field and "," in output_field else None
    if wanted is not None:
        return _several(rows, wanted, model or DEFAULT_MODEL)
    output = _pick_output(rows, output_field)
    inputs = [f for f in rows.fields.values() if f.name != output.name and _input_usable(f)]
    if not inputs:
        raise InputError(f"{rows.path}: no input field besides '{output.name}' ({_left_out_text(rows, output) or 'only one field'})")
    expected = [_as_text(v) for v in output.values]
    guessed = guess(output.values, expected)
    name = _task_name(rows.path)
    text = _render(rows, [output], inputs, [guessed], name, model or DEFAULT_MODEL, [expected])
    _check(text, rows.path)
    return Scaffold(text, name, output.name, [f.name for f in inputs], guessed.answer_type, guessed.choices,
                    len(rows.records))


def _several(rows: _Rows, wanted: list[str], model: str) -> Scaffold:
    """A spec whose answer is several fields, each typed and scored by what its values look like."""
    if len(set(wanted)) != len(wanted) or not all(wanted):
        raise InputError(f"--output-field {','.join(wanted)}: name each field once, separated by commas")
    outputs = [_pick_output(rows, name) for name in wanted]
    inputs = [f for f in rows.fields.values() if f.name not in wanted and _input_usable(f)]
    if not inputs:
        raise InputError(f"{rows.path}: no input field besides {', '.join(wanted)}")
    expected = [[_as_text(v) for v in output.values] for output in outputs]
    guessed = [guess(output.values, values) for output, values in zip(outputs, expected)]
    name = _task_name(rows.path)
    text = _render(rows, outputs, inputs, guessed, name, model, expected)
    _check(text, rows.path)
    return Scaffold(text, name, ", ".join(wanted), [f.name for f in inputs], "several fields", [], len(rows.records))


def _read(path: Path) -> _Rows:
    records: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(read_bytes(path).splitlines(), start=1):
        if not line.strip():
            continue
        record, problem = parse_record(line)
        if problem:
            raise InputError(f"{path}:{number}: {problem}")
        records.append((number, record))
    if not records:
        raise InputError(f"{path}: the dataset is empty")
    fields: dict[str, FieldScan] = {}
    for _, record in records:
        for name in record:
            fields.setdefault(name, FieldScan(name))
    for number, record in records:
        for f in fields.values():
            if f.name not in record:
                f.missing_line = f.missing_line or number
            elif record[f.name] is None or isinstance(record[f.name], (dict, list)):
                f.bad_line = f.bad_line or number
            else:
                f.values.append(record[f.name])
    return _Rows(path, records, fields)


def _pick_output(rows: _Rows, wanted: str | None) -> FieldScan:
    if wanted is not None:
        chosen = rows.fields.get(wanted)
        if chosen is None:
            known = ", ".join(rows.fields)
            raise InputError(f"{rows.path}:{rows.records[0][0]}: {wanted}: no such field (fields: {known})")
        if not chosen.usable:
            line = chosen.missing_line or chosen.bad_line
            problem = "missing field" if chosen.missing_line else "must be a string or number"
            raise InputError(f"{rows.path}:{line}: {wanted}: {problem}")
        return chosen
    usable = [f for f in rows.fields.values() if f.usable]
    if not usable:
        worst = next(iter(rows.fields.values()))
        raise InputError(f"{rows.path}:{worst.missing_line or worst.bad_line}: {worst.name}: no field holds a string or number on every line")
    by_name = {f.name.lower(): f for f in usable}
    for name in OUTPUT_NAMES:
        if name in by_name:
            return by_name[name]
    for name in OUTPUT_NAMES[:9]:  # gold_label, expected_answer, target_class, ...
        for f in usable:
            if re.search(rf"(?:^|[_\-\s.]){name}$", f.name.lower()):
                return f
    return usable[-1]


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)  # as `opro_cli.data` reads it


def _task_name(path: Path) -> str:
    stem = re.sub(r"[-_.](train|training|dev|valid|validation|test|data)$", "", path.stem, flags=re.IGNORECASE)
    return stem or path.stem or "task"


def _words(name: str) -> str:
    return " ".join(part for part in re.split(r"[_\-\s]+", name) if part) or name


def _input_usable(f: FieldScan) -> bool:
    return f.usable and f.name.isidentifier() and not _ID_NAME.fullmatch(f.name)


def _left_out_text(rows: _Rows, output: FieldScan) -> str:
    notes = []
    for f in rows.fields.values():
        if f.name == output.name or _input_usable(f):
            continue
        if not f.usable:
            notes.append(f"{f.name!r} {f.why_not()}")
        elif not f.name.isidentifier():
            notes.append(f"{f.name!r} is not a plain name usable in a template (rename it in the data)")
        else:
            notes.append(f"{f.name!r} looks like an identifier, not content")
    return "; ".join(notes)


def _q(value: str) -> str:
    """A YAML scalar that reads back as exactly this string: plain when that is safe, else double-quoted
    (a JSON string is a valid YAML double-quoted string)."""
    if _PLAIN.fullmatch(value) and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value, ensure_ascii=False)


def _render(
    rows: _Rows,
    outputs: list[FieldScan],
    inputs: list[FieldScan],
    guesses: list[Guess],
    name: str,
    model: str,
    expected: list[list[str]],
) -> str:
    input_names = " and ".join(_words(f.name) for f in inputs)
    several = len(outputs) > 1
    if several:
        goal = "give the " + " and the ".join(_words(f.name) for f in outputs)
    else:
        words, first = _words(outputs[0].name), guesses[0]
        goal = {
            "label": f"answer with one of: {', '.join(first.choices)}",
            "integer": f"give the {words} as a whole number",
            "number": f"give the {words} as a number",
            "text": f"give the {words}",
        }[first.answer_type]
    instructions = f"Given the {input_names}, {goal}."
    template = "\n".join(f"{_words(f.name).capitalize()}: {{{f.name}}}" for f in inputs)
    lengths = [16 if g.answer_type != "text" else max(32, max(len(e) for e in values) // 2 + 16)
               for g, values in zip(guesses, expected)]
    max_tokens = min(512, sum(lengths) + (8 * len(outputs) if several else 0))
    texty = any(g.answer_type == "text" for g in guesses)
    left_out = _left_out_text(rows, outputs[0]) if not several else ""
    count = len(rows.records)
    lines = [
        f"# Written by `opro init` from {rows.path} ({count} examples).",
        "# Every guess is explained in a comment: check them, then `opro validate` this file and `opro optimize`.",
        f"name: {_q(name)}",
        "# For the optimizer model: one sentence on the task and on what a good answer is.",
        f"description: {_q(instructions)}",
        "",
        "model:",
        f"  name: {_q(model)}" + ("   # the embedded model: no key, no network. Try openai/gpt-4o-mini." if model == DEFAULT_MODEL
                                    else "   # provider keys come from the environment (e.g. OPENAI_API_KEY)"),
        "  temperature: 0",
        f"  max_tokens: {max_tokens}" + ("   # from the longest answer in the data" if texty else ""),
        "# optimizer_model: openai/gpt-4o   # a stronger model to write the instructions (default: model)",
        "",
        "prompt:",
        f"  instructions: {_q(instructions)}   # the seed instructions",
        f"  input: {_q(template)}   # the input fields: {', '.join(f.name for f in inputs)}",
    ]
    if left_out:
        lines.append(f"  # left out of the input: {left_out}")
    if several:
        lines += _several_sections(outputs, guesses)
    else:
        output, first = outputs[0], guesses[0]
        lines += [
            f"  output: {_q(output.name)}   # the expected answer: "
            + ("named like one" if output.name.lower() in OUTPUT_NAMES or _named_like_output(output.name)
               else "the last field") + " (choose another with opro init --output-field)",
            "",
            "answer:",
            f"  type: {first.answer_type}   # {first.why}",
        ]
        if first.choices:
            lines.append(f"  choices: [{', '.join(_q(c) for c in first.choices)}]")
        lines += ["", f"reward:                 # {first.reward_why}"]
        lines += [f"  {key}: {value}" for key, value in first.reward.items()]
        if first.answer_type == "text" and first.reward["type"] == "exact_match":
            lines.append("  # free text rarely matches exactly: a regex reward can compare a part (docs/spec.md)")
    lines += [
        "",
        "optimizer:              # defaults; docs/spec.md lists every setting",
        "  k: auto               # few-shot examples: one (and two) per answer of a label set, at least 3",
        "  batch_size: 8",
        "  candidates: 4         # new instructions proposed per step",
        "  seed: 0",
        "",
    ]
    return "\n".join(lines)


def _several_sections(outputs: list[FieldScan], guesses: list[Guess]) -> list[str]:
    """`prompt.output` as a list, each field's type under `answer.outputs`, and a `fields` reward."""
    names = ", ".join(_q(f.name) for f in outputs)
    lines = [f"  output: [{names}]   # several fields (from --output-field): the model answers one JSON object",
             "", "answer:", "  outputs:               # each field's type (a field not listed is text)"]
    for output, g in zip(outputs, guesses):
        choices = f", choices: [{', '.join(_q(c) for c in g.choices)}]" if g.choices else ""
        lines.append(f"    {_q(output.name)}: {{type: {g.answer_type}{choices}}}   # {g.why}")
    lines += ["", "reward:                 # the mean of each field's reward; `weights:` can favour some", "  type: fields",
              "  fields:"]
    for output, g in zip(outputs, guesses):
        settings = ", ".join(f"{key}: {value}" for key, value in g.reward.items())
        lines.append(f"    {_q(output.name)}: {{{settings}}}   # {g.reward_why}")
    return lines


def _named_like_output(name: str) -> bool:
    return any(re.search(rf"(?:^|[_\-\s.]){n}$", name.lower()) for n in OUTPUT_NAMES[:9])


def _check(text: str, data_path: Path) -> None:
    """Load the scaffold as `opro validate` would: spec, then every data line against it."""
    import yaml

    from ..data import dataset_problems
    from ..spec import parse_spec

    spec = parse_spec(yaml.safe_load(text), Path("(opro init)"))
    problems = dataset_problems(data_path, spec)
    if problems:
        raise InputError(problems[0])
