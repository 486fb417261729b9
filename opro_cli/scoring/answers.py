"""The answer's format: how to ask for it (JSON schema or a sentence in the prompt), how shots show it, and how
to read it back from whatever the model wrote. A parse failure is a result (scored 0), never an exception."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..spec import AnswerSpec

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?|-?\.\d+")


@dataclass(frozen=True)
class Parsed:
    answer: str | None
    fields: dict[str, str] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class AnswerFormat:
    """An AnswerSpec resolved for one run: label set known, and whether the provider gets a JSON schema."""

    type: str = "text"
    choices: tuple[str, ...] = ()
    fields: dict[str, str] = field(default_factory=dict)
    structured: bool = False

    @classmethod
    def resolve(cls, spec: AnswerSpec, structured: bool, observed: list[str] | None = None) -> AnswerFormat:
        """`observed` are the training answers, used when the spec says `choices: infer`."""
        choices: tuple[str, ...] = ()
        if spec.choices == "infer":
            choices = tuple(sorted(set(observed or [])))
        elif spec.choices:
            choices = tuple(spec.choices)
        return cls(spec.type, choices, dict(spec.fields), structured)

    @property
    def json_mode(self) -> bool:
        """Answers are JSON objects when the provider constrains them or when extra fields are asked for."""
        return self.structured or bool(self.fields)

    def schema(self) -> dict[str, Any]:
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
        if self.type in ("integer", "number"):
            value = _to_number(expected.strip(), self.type)
            if value is not None:
                return str(value)
        return expected

    def render(self, answer: str, fields: dict[str, str] | None = None) -> str:
        """A shot's answer, written exactly as the model must write its own."""
        if not self.json_mode:
            return answer
        value: Any = answer
        if self.type in ("integer", "number"):
            value = _to_number(answer, self.type) if _to_number(answer, self.type) is not None else answer
        given = fields or {}
        return json.dumps({**{name: given.get(name, "") for name in self.fields}, "answer": value})

    def parse(self, text: str) -> Parsed:
        if self.json_mode:
            obj = _json_object(text)
            if obj is not None and "answer" in obj:
                extra = {name: str(obj.get(name, "")) for name in self.fields}
                parsed = self._coerce(json.dumps(obj["answer"]) if not isinstance(obj["answer"], str) else obj["answer"])
                return Parsed(parsed.answer, extra, parsed.error)
            if self.structured and not self.fields:
                fallback = self._coerce(text)
                return fallback if fallback.answer is not None else Parsed(None, error="answer is not valid JSON")
        return self._coerce(text)

    def _coerce(self, text: str) -> Parsed:
        text = text.strip()
        if self.type == "label":
            return _find_label(text, self.choices)
        if self.type in ("integer", "number"):
            numbers = _NUMBER.findall(text)
            if not numbers:
                return Parsed(None, error="no number in the answer")
            value = _to_number(numbers[-1], self.type)
            return Parsed(None, error="not an integer") if value is None else Parsed(str(value))
        return Parsed(text) if text else Parsed(None, error="empty answer")


def _find_label(text: str, choices: tuple[str, ...]) -> Parsed:
    """The label the text names, if it names exactly one (whole words, any case)."""
    bare = text.strip().strip("\"'`.!").strip().lower()
    for label in choices:
        if bare == label.lower():
            return Parsed(label)
    named = [label for label in choices if re.search(rf"(?<!\w){re.escape(label)}(?!\w)", text, re.IGNORECASE)]
    if len(named) == 1:
        return Parsed(named[0])
    if not named:
        return Parsed(None, error="names no label")
    return Parsed(None, error=f"names {len(named)} labels")


def _to_number(text: str, kind: str) -> int | float | None:
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        return None
    if kind == "integer":
        return int(value) if value.is_integer() else None
    return int(value) if value.is_integer() else value


def _json_object(text: str) -> dict[str, Any] | None:
    """The JSON object in the text: all of it, or the outermost {...} span (models wrap JSON in prose)."""
    for candidate in (text, text[text.find("{") : text.rfind("}") + 1]):
        try:
            obj = json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
        if isinstance(obj, dict):
            return obj
    return None
