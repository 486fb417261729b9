"""The answer's format: how to ask for it (JSON schema or a sentence in the prompt), how shots show it, and how
to read it back from whatever the model wrote. A parse failure is a result (scored 0), never an exception."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..spec import AnswerSpec
from . import fields as several
from .fields import OutputField
from .values import Parsed, find_label, json_object, read_number, to_number

__all__ = ["AnswerFormat", "OutputField", "Parsed"]


@dataclass(frozen=True)
class AnswerFormat:
    """An AnswerSpec resolved for one run: label set known, and whether the provider gets a JSON schema."""

    type: str = "text"
    choices: tuple[str, ...] = ()
    fields: dict[str, str] = field(default_factory=dict)
    structured: bool = False
    outputs: tuple[OutputField, ...] = ()  # several answer fields (one JSON object); empty: one answer

    @classmethod
    def resolve(cls, spec: AnswerSpec, structured: bool, observed: list[str] | None = None,
                outputs: list[str] | None = None) -> AnswerFormat:
        """`observed` are the training answers, used when the spec says `choices: infer`; `outputs` the names
        of several answer fields (their expected answers observed as JSON objects)."""
        if outputs is not None:
            return cls("text", (), dict(spec.fields), structured, _output_fields(spec, outputs, observed or []))
        choices: tuple[str, ...] = ()
        if spec.choices == "infer":
            choices = tuple(sorted(set(observed or [])))
        elif spec.choices:
            choices = tuple(spec.choices)
        return cls(spec.type, choices, dict(spec.fields), structured)

    @property
    def json_mode(self) -> bool:
        """Answers are JSON objects when the provider constrains them, when extra fields are asked for, or when
        the answer has several fields."""
        return self.structured or bool(self.fields) or bool(self.outputs)

    def schema(self) -> dict[str, Any]:
        if self.outputs:
            return several.schema(self.outputs, self.fields)
        answer: dict[str, Any] = {"type": "string"}
        if self.type == "label":
            answer = {"type": "string", "enum": list(self.choices)}
        elif self.type == "integer":
            answer = {"type": "integer"}
        elif self.type == "number":
            answer = {"type": "number"}
        properties = {name: {"type": "string", "description": text} for name, text in self.fields.items()}
        properties["answer"] = answer
        return {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        }

    def response_format(self) -> dict[str, Any] | None:
        """OpenAI-style structured-output request (litellm maps it per provider), or None."""
        if not self.structured:
            return None
        return {"type": "json_schema", "json_schema": {"name": "answer", "schema": self.schema(), "strict": True}}

    def instruction(self) -> str:
        """The sentence that tells the model the format, appended to the instructions."""
        if self.outputs:
            return several.instruction(self.outputs, self.fields)
        what = {
            "label": f"exactly one of: {', '.join(self.choices)}",
            "integer": "a single integer",
            "number": "a single number",
            "text": "",
        }[self.type]
        if self.json_mode:
            names = ", ".join(f'"{name}" ({text})' for name, text in self.fields.items())
            before = f"the fields {names}, then " if names else ""
            after = f", {what}" if what else ""
            return f'Reply with a JSON object with {before}the field "answer"{after}.'
        return f"Answer with {what} and nothing else." if what else ""

    def expected_text(self, expected: str) -> str:
        """The expected answer as a parsed answer would read it: a number in the parser's form ("3.0" -> "3",
        "2.50" -> "2.5"), so numbers compare by value, not by how the dataset happened to write them."""
        if self.outputs:
            return several.normalised_expected(self.outputs, expected)
        if self.type in ("integer", "number"):
            value = to_number(expected.strip(), self.type)
            if value is not None:
                return str(value)
        return expected

    def render(self, answer: str, fields: dict[str, str] | None = None) -> str:
        """A shot's answer, written exactly as the model must write its own."""
        if self.outputs:
            return several.render(self.outputs, self.fields, answer, fields or {})
        if not self.json_mode:
            return answer
        value: Any = answer
        if self.type in ("integer", "number"):
            value = to_number(answer, self.type) if to_number(answer, self.type) is not None else answer
        given = fields or {}
        return json.dumps({**{name: given.get(name, "") for name in self.fields}, "answer": value})

    def parse(self, text: str) -> Parsed:
        if self.outputs:
            return Parsed(*several.parse(self.outputs, self.fields, text))
        if self.json_mode:
            obj = json_object(text)
            if obj is not None and "answer" in obj:
                extra = {name: str(obj.get(name, "")) for name in self.fields}
                parsed = self._coerce(json.dumps(obj["answer"]) if not isinstance(obj["answer"], str) else obj["answer"])
                return Parsed(parsed.answer, extra, parsed.error)
            if self.structured and not self.fields:
                fallback = self._coerce(text)
                return fallback if fallback.answer is not None else Parsed(None, error="answer is not valid JSON")
        return self._coerce(text)

    def typed(self, answer: str | None) -> Any:
        """A parsed answer as an application wants it: a number for integer and number answers, a dict of typed
        fields for several, the text otherwise; None stays None."""
        if answer is None:
            return None
        if self.outputs:
            values = several.expected_object(answer)
            return {f.name: f.typed(values[f.name]) for f in self.outputs if f.name in values}
        if self.type in ("integer", "number"):
            value = to_number(answer, self.type)
            return answer if value is None else value
        return answer

    def _coerce(self, text: str) -> Parsed:
        text = text.strip()
        if self.type == "label":
            return find_label(text, self.choices)
        if self.type in ("integer", "number"):
            value, error = read_number(text, self.type)
            return Parsed(value, error=error)
        return Parsed(text) if text else Parsed(None, error="empty answer")


def _output_fields(spec: AnswerSpec, names: list[str], observed: list[str]) -> tuple[OutputField, ...]:
    """Each answer field with its type; `choices: infer` takes the field's distinct training values."""
    declared = spec.outputs or {}
    fields = []
    for name in names:
        kind = declared.get(name)
        if kind is None:
            fields.append(OutputField(name))
            continue
        choices: tuple[str, ...] = ()
        if kind.choices == "infer":
            choices = tuple(sorted({v for o in observed if (v := several.expected_object(o).get(name))}))
        elif kind.choices:
            choices = tuple(kind.choices)
        fields.append(OutputField(name, kind.type, choices))
    return tuple(fields)
