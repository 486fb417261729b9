"""A `python` reward: the user's own function on (parsed answer, expected, the data row), checked on every call.

It returns a bool, a number in [0, 1], or either with its reason as `(score, reason)` or `{"score": ..., "reason":
...}`. An exception or any other value stops the run at that example (`UserCodeError`, exit 2) with the user's
own traceback frames and the data line, before more is spent.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import InputError, UserCodeError
from ..spec import PythonReward, load_function
from .fields import expected_object
from .prediction import Verdict

_PACKAGE = Path(__file__).resolve().parent.parent


def python_scorer(reward: PythonReward, several: bool) -> Callable[[str | None, str, Any], Verdict]:
    """The user's function on (parsed answer, expected, the data row); its value checked every time: a bool, a
    number in [0, 1], or either with its reason as `(score, reason)` or `{"score": ..., "reason": ...}`."""
    try:  # checked when the spec was read; an artifact's may have moved or changed since
        function = load_function(reward.function)
    except ValueError as exc:
        raise InputError(f"reward function {reward.function}: {exc}") from None
    reference = reward.function

    def score(answer: str | None, expected: str, example: Any) -> Verdict:
        given = (expected_object(answer) if answer is not None else None) if several else answer
        wanted = expected_object(expected) if several else expected
        row = getattr(example, "record", None) or {}
        try:
            value = function(given, wanted, dict(row))
        except Exception as exc:  # noqa: BLE001 - the user's code: report it as theirs, then stop
            raise _user_failure(reference, example, f"raised {type(exc).__name__}: {exc}", exc) from None
        number, reason = _user_value(value)
        if isinstance(number, bool):
            number = float(number)
        if isinstance(number, (int, float)) and 0.0 <= number <= 1.0 and (reason is None or isinstance(reason, str)):
            return Verdict(float(number), (reason or None) if number < 1 else None)
        raise _user_failure(reference, example, f"returned {value!r}: a reward must be a bool or a number in [0, 1]"
                                                " (or (score, reason), or {'score': ..., 'reason': ...})")

    return score


def _user_value(value: Any) -> tuple[Any, Any]:
    """(score, reason) out of what the user's function returned."""
    if isinstance(value, tuple) and len(value) == 2:
        return value
    if isinstance(value, dict) and set(value) <= {"score", "reason"} and "score" in value:
        return value["score"], value.get("reason")
    return value, None


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
