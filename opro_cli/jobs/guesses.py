"""What `opro init` guesses from one output field's values: its answer type, and the reward that fits it.

- a few distinct, repeated values: a label set, scored by exact match;
- numbers (or strings of digits): `integer` / `number`, scored by `numeric` with a tolerance of half the data's
  last decimal (answers that round to the expected value count);
- free text: exact match for short answers, token F1 for longer ones (a phrase that is partly right scores in part).
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass
from typing import Any

MAX_LABELS = 20
F1_FROM_WORDS = 3  # free-text answers of this many words or more (median) are scored by token F1
_INTEGER = re.compile(r"-?\d+")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class Guess:
    """An output field's type (with its label set) and reward, each with the reason the spec's comments give."""

    answer_type: str
    choices: list[str]
    why: str
    reward: dict[str, Any]
    reward_why: str


def guess(values: list[Any], expected: list[str]) -> Guess:
    answer_type, choices, why = answer_type_of(values, expected)
    reward, reward_why = reward_for(answer_type, values, expected)
    return Guess(answer_type, choices, why, reward, reward_why)


def answer_type_of(values: list[Any], expected: list[str]) -> tuple[str, list[str], str]:
    """(type, choices, why): label set for a few repeated values, integer/number when all are numbers."""
    distinct = sorted(set(expected))
    numeric = all(is_number(v) for v in values)
    few = 2 <= len(distinct) <= MAX_LABELS and len(distinct) * 2 <= len(expected)
    if numeric and few and len(distinct) <= 5 and all(_INTEGER.fullmatch(e) for e in expected):
        return "label", distinct, (
            f"{len(distinct)} distinct whole numbers, each repeated: read as class codes, a label set. "
            "If they are quantities, use type: integer instead."
        )
    if numeric:
        if all(_INTEGER.fullmatch(e) for e in expected):
            return "integer", [], "every output is a whole number"
        return "number", [], "every output is a number"
    if few:
        return "label", distinct, f"{len(distinct)} distinct values over {len(expected)} examples: a label set"
    return "text", [], f"{len(distinct)} distinct values over {len(expected)} examples: free text"


def reward_for(answer_type: str, values: list[Any], expected: list[str]) -> tuple[dict[str, Any], str]:
    """The reward that fits the type, and why."""
    if answer_type in ("integer", "number"):
        decimals = max((len(e.split(".")[1]) for e in (text.strip() for text in expected) if "." in e), default=0)
        tolerance = 0.5 * 10 ** -decimals
        return ({"type": "numeric", "abs_tol": float(f"{tolerance:.{decimals + 1}f}")},
                (f"numbers with up to {decimals} decimals" if decimals else "whole numbers")
                + f": within {tolerance:g} of the expected value counts")
    if answer_type == "text":
        words = statistics.median(len(e.split()) for e in expected)
        if words >= F1_FROM_WORDS:
            return ({"type": "f1"}, f"answers of about {words:g} words: scored by the words they share with the "
                                    "expected one (token F1, 0 to 1), so a partly right answer scores in part")
    return {"type": "exact_match"}, "1 when the answer equals the expected one after normalisation, else 0"


def is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return math.isfinite(value)
    return isinstance(value, str) and _NUMBER.fullmatch(value.strip()) is not None
