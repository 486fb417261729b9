"""Reading values out of whatever a model wrote: a label it names, a number, a JSON object inside prose."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?|-?\.\d+")


@dataclass(frozen=True)
class Parsed:
    answer: str | None
    fields: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def read_number(text: str, kind: str) -> tuple[str | None, str | None]:
    """The last number in the text in the parser's form ("3.0" -> "3"), or (None, why not)."""
    numbers = NUMBER.findall(text)
    if not numbers:
        return None, "no number in the answer"
    value = to_number(numbers[-1], kind)
    return (None, "not an integer") if value is None else (str(value), None)


def find_label(text: str, choices: tuple[str, ...]) -> Parsed:
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


def to_number(text: str, kind: str) -> int | float | None:
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        return None
    if kind == "integer":
        return int(value) if value.is_integer() else None
    return int(value) if value.is_integer() else value


def json_object(text: str) -> dict[str, Any] | None:
    """The JSON object in the text: all of it, or the outermost {...} span (models wrap JSON in prose)."""
    for candidate in (text, text[text.find("{") : text.rfind("}") + 1]):
        try:
            obj = json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
        if isinstance(obj, dict):
            return obj
    return None
