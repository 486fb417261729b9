"""Rewards: one parsed answer scored against its expected value, a number in [0, 1].

exact_match, regex, contains and numeric give 0 or 1; f1 gives the token overlap; fields the weighted mean of
each field's reward; python whatever the user's function returns (a bool, or a number in [0, 1]). The user's
function is checked on every call: an exception or a value outside [0, 1] stops the run at that example
(`UserCodeError`, exit 2) with the user's own traceback frames and the data line, before more is spent.
"""

from __future__ import annotations

import math
import re
import string
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError, UserCodeError
from ..spec import (
    ContainsReward,
    ExactMatchReward,
    F1Reward,
    FieldsReward,
    NumericReward,
    PythonReward,
    RegexReward,
    load_function,
)
from .fields import expected_object
from .values import NUMBER, to_number

_PUNCTUATION = string.punctuation + "“”‘’…"
_STEPS: dict[str, Callable[[str], str]] = {
    "strip": str.strip,
    "lowercase": str.lower,
    "collapse_whitespace": lambda text: " ".join(text.split()),
    "strip_punctuation": lambda text: text.strip().strip(_PUNCTUATION).strip(),
    "strip_quotes": lambda text: text.strip().strip("\"'`“”‘’").strip(),
}
_WORD = re.compile(r"\w+")
_PACKAGE = Path(__file__).resolve().parent.parent


def normalize(text: str, steps: Sequence[str]) -> str:
    """Apply the spec's normalisations in the order it lists them."""
    for step in steps:
        text = _STEPS[step](text)
    return text


class Scorer:
    """Scores answers with the spec's reward; build once per run (regexes compile once, the user's function is
    loaded once). `answer` and `expected` are text (with several fields, JSON text of {field: value})."""

    def __init__(self, reward: Any, several: bool = False) -> None:
        self.reward = reward
        self._score = _scorer(reward, several)

    def __call__(self, answer: str | None, expected: str, example: Any = None) -> float:
        return self._score(answer, expected, example)


Score = Callable[[str | None, str, Any], float]


def _scorer(reward: Any, several: bool = False) -> Score:
    """`several`: the answer has several fields (a `python` reward then gets dicts, not text)."""
    if isinstance(reward, FieldsReward):
        return _fields(reward)
    if isinstance(reward, PythonReward):
        return _python(reward, several)
    plain = _plain(reward)
    return lambda answer, expected, example: 0.0 if answer is None else plain(answer, expected)


def _plain(reward: Any) -> Callable[[str, str], float]:
    """A reward of one answer string against one expected string."""
    if isinstance(reward, ExactMatchReward):
        steps = reward.normalize
        return lambda answer, expected: float(normalize(answer, steps) == normalize(expected, steps))
    if isinstance(reward, RegexReward):
        return _regex(reward)
    if isinstance(reward, ContainsReward):
        steps = reward.normalize
        return lambda answer, expected: float(_contains(normalize(answer, steps), normalize(expected, steps)))
    if isinstance(reward, NumericReward):
        return lambda answer, expected: float(_close(answer, expected, reward))
    if isinstance(reward, F1Reward):
        steps = reward.normalize
        return lambda answer, expected: token_f1(normalize(answer, steps), normalize(expected, steps))
    raise TypeError(f"no scorer for {reward!r}")


def _regex(reward: RegexReward) -> Callable[[str, str], float]:
    flags = re.IGNORECASE if reward.ignore_case else 0
    steps = reward.normalize
    if reward.group is not None:
        extract = re.compile(reward.pattern, flags)

        def captured(answer: str, expected: str) -> float:
            found = extract.search(answer)
            value = found.group(reward.group) if found else None
            return float(value is not None and normalize(value, steps) == normalize(expected, steps))

        return captured
    return lambda answer, expected: float(
        re.search(reward.pattern.replace("{expected}", re.escape(normalize(expected, steps))), answer, flags) is not None
    )


def _contains(answer: str, expected: str) -> bool:
    """The expected text in the answer as whole words (an empty expected value is in nothing)."""
    return bool(expected) and re.search(rf"(?<!\w){re.escape(expected)}(?!\w)", answer) is not None


def _close(answer: str, expected: str, reward: NumericReward) -> bool:
    """The answer's last number against the expected one, as `math.isclose` with the reward's tolerances."""
    numbers = NUMBER.findall(answer)
    got = to_number(numbers[-1], "number") if numbers else None
    want = to_number(expected.strip(), "number")
    if got is None or want is None:
        return False
    return math.isclose(got, want, rel_tol=reward.rel_tol, abs_tol=reward.abs_tol)


def token_f1(answer: str, expected: str) -> float:
    """Token-level F1: words shared (with multiplicity) over the answer's and the expected value's words."""
    said, wanted = _WORD.findall(answer), _WORD.findall(expected)
    if not said or not wanted:
        return float(said == wanted)
    shared = sum((Counter(said) & Counter(wanted)).values())
    if shared == 0:
        return 0.0
    precision, recall = shared / len(said), shared / len(wanted)
    return 2 * precision * recall / (precision + recall)


def _fields(reward: FieldsReward) -> Score:
    """The weighted mean of each field's reward; a field missing from the answer scores 0 alone."""
    per_field: dict[str, Score] = {name: _scorer(sub) for name, sub in reward.fields.items()}
    default = _scorer(ExactMatchReward(type="exact_match"))

    def score(answer: str | None, expected: str, example: Any) -> float:
        wanted, said = expected_object(expected), expected_object(answer) if answer is not None else {}
        weights = {name: reward.weights.get(name, 1.0) for name in wanted}
        total = sum(weights.values())
        if not total:
            return 0.0
        gained = sum(weight * per_field.get(name, default)(said.get(name), wanted[name], example)
                     for name, weight in weights.items() if weight)
        return gained / total

    return score


def _python(reward: PythonReward, several: bool) -> Score:
    """The user's function on (parsed answer, expected, the data row); its value checked every time."""
    try:  # checked when the spec was read; an artifact's may have moved or changed since
        function = load_function(reward.function)
    except ValueError as exc:
        raise InputError(f"reward function {reward.function}: {exc}") from None
    reference = reward.function

    def score(answer: str | None, expected: str, example: Any) -> float:
        given = (expected_object(answer) if answer is not None else None) if several else answer
        wanted = expected_object(expected) if several else expected
        row = getattr(example, "record", None) or {}
        try:
            value = function(given, wanted, dict(row))
        except Exception as exc:  # noqa: BLE001 - the user's code: report it as theirs, then stop
            raise _user_failure(reference, example, f"raised {type(exc).__name__}: {exc}", exc) from None
        if isinstance(value, bool):
            return float(value)
        if isinstance(value, (int, float)) and 0.0 <= value <= 1.0:
            return float(value)
        raise _user_failure(reference, example, f"returned {value!r}: a reward must be a bool or a number in [0, 1]")

    return score


def _user_failure(reference: str, example: Any, what: str, exc: BaseException | None = None) -> UserCodeError:
    """One line naming the function and the data line, and the user's own traceback frames (none of ours)."""
    where = ""
    if example is not None and getattr(example, "line", None):
        where = f" on {example.path}:{example.line}" if getattr(example, "path", None) else f" on data line {example.line}"
    frames = []
    if exc is not None:
        frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
                  if not Path(frame.filename).resolve().is_relative_to(_PACKAGE)]
    details = "".join(traceback.format_list(frames)) + (f"{type(exc).__name__}: {exc}\n" if exc is not None else "")
    return UserCodeError(f"reward function {reference}{where}: {what}", details=details)
