"""Answers of several fields (`prompt.output` as a list): the model replies with one JSON object holding exactly
those keys. Each field has its own type (text, a label set, an integer or a number); the object is read
tolerantly (JSON anywhere in the reply, else `name: value` lines), and a missing or unreadable field is left out
of the parsed answer, so it scores 0 alone rather than the whole answer."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .values import find_label, json_object, read_number, to_number


@dataclass(frozen=True)
class OutputField:
    """One answer field: its name, type and (for a label) its choices."""

    name: str
    type: str = "text"
    choices: tuple[str, ...] = ()

    def schema(self) -> dict[str, Any]:
        if self.type == "label":
            return {"type": "string", "enum": list(self.choices)}
        return {"type": {"integer": "integer", "number": "number"}.get(self.type, "string")}

    def described(self) -> str:
        """The field as the format sentence names it."""
        what = {"label": f"exactly one of: {', '.join(self.choices)}", "integer": "an integer", "number": "a number"}
        return f'"{self.name}"' + (f" ({what[self.type]})" if self.type in what else "")

    def read(self, value: Any) -> tuple[str | None, str | None]:
        """A value the model gave for this field, as text in the parser's form, or (None, why not)."""
        if value is None:
            return None, f"{self.name}: missing"
        text = value if isinstance(value, str) else json.dumps(value)
        if self.type == "label":
            found = find_label(text.strip(), self.choices)
            return found.answer, None if found.answer is not None else f"{self.name}: {found.error}"
        if self.type in ("integer", "number"):
            number, error = read_number(text, self.type)
            return number, None if number is not None else f"{self.name}: {error}"
        text = text.strip()
        return (text, None) if text else (None, f"{self.name}: empty")

    def typed(self, text: str) -> Any:
        """An expected value as the model should write it in JSON: numbers as numbers."""
        if self.type in ("integer", "number"):
            value = to_number(text.strip(), self.type)
            return text if value is None else value
        return text


def expected_object(expected: str) -> dict[str, str]:
    """An answer of several fields kept as JSON text of {field: value} (the expected one, see `data.Example`, or
    the parsed one), as a dict of texts; {} when it is not such an object."""
    try:
        value = json.loads(expected)
    except (json.JSONDecodeError, ValueError):
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()} if isinstance(value, dict) else {}


def schema(outputs: tuple[OutputField, ...], extra: dict[str, str]) -> dict[str, Any]:
    properties = {name: {"type": "string", "description": text} for name, text in extra.items()}
    properties.update({field.name: field.schema() for field in outputs})
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def instruction(outputs: tuple[OutputField, ...], extra: dict[str, str]) -> str:
    before = ", ".join(f'"{name}" ({text})' for name, text in extra.items())
    named = ", ".join(field.described() for field in outputs)
    return f"Reply with a JSON object with the fields {before + ', then ' if before else ''}{named}."


def render(outputs: tuple[OutputField, ...], extra: dict[str, str], expected: str, given: dict[str, str]) -> str:
    """A shot's answer: the expected fields (typed), after any extra fields, as the model must write its own."""
    values = expected_object(expected)
    return json.dumps({**{name: given.get(name, "") for name in extra},
                       **{field.name: field.typed(values.get(field.name, "")) for field in outputs}})


_LINE = re.compile(r"^\s*[\"'`*-]*\s*([A-Za-z_][\w ]*?)\s*[\"'`*]*\s*[:=]\s*(.+?)\s*,?\s*$")


def parse(outputs: tuple[OutputField, ...], extra: dict[str, str], text: str) -> tuple[str | None, dict[str, str], str | None]:
    """(the fields read, as JSON text of {field: value}, or None when the reply holds no object at all; the extra
    fields; what could not be read, or None)."""
    obj = json_object(text)
    if obj is None:
        obj = {match.group(1).strip(): match.group(2).strip().strip("\"'`") for line in text.splitlines()
               if (match := _LINE.match(line))}
        if not any(field.name in obj for field in outputs):
            return None, {}, "no JSON object with the answer's fields"
    found, problems = {}, []
    for field in outputs:
        value, problem = field.read(obj.get(field.name))
        if value is not None:
            found[field.name] = value
        if problem:
            problems.append(problem)
    extras = {name: str(obj.get(name, "")) for name in extra}
    return json.dumps(found), extras, "; ".join(problems) or None


def normalised_expected(outputs: tuple[OutputField, ...], expected: str) -> str:
    """The expected fields in the parser's form (numbers by value), as JSON text."""
    values = expected_object(expected)
    out = {}
    for field in outputs:
        if field.name in values:
            value, _ = field.read(values[field.name]) if field.type in ("integer", "number") else (values[field.name], None)
            out[field.name] = value if value is not None else values[field.name]
    return json.dumps(out)
