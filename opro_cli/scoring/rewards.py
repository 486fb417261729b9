"""Rewards: one parsed answer scored against its expected value, a number in [0, 1].

exact_match, regex, contains and numeric give 0 or 1; f1 gives the token overlap; fields the weighted mean of
each field's reward; python whatever the user's function returns (a bool, or a number in [0, 1]); judge a model's
grade (`judge.py`). Below full credit every reward says why in a short reason (`Verdict`), which `eval` writes and
the optimizer model reads (`{failures}`). The user's
function is checked on every call: an exception or a value outside [0, 1] stops the run at that example
(`UserCodeError`, exit 2) with the user's own traceback frames and the data line, before more is spent.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..spec import (
    ContainsReward,
    ExactMatchReward,
    F1Reward,
    FieldsReward,
    JudgeReward,
    NumericReward,
    PythonReward,
    RegexReward,
)
from .fields import expected_object
from .prediction import Verdict
from .user_reward import python_scorer
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


def normalize(text: str, steps: Sequence[str]) -> str:
    """Apply the spec's normalisations in the order it lists them."""
    for step in steps:
        text = _STEPS[step](text)
    return text


class Scorer:
    """Scores answers with the spec's reward; build once per run (regexes compile once, the user's function is
    loaded once). `answer` and `expected` are text (with several fields, JSON text of {field: value}).

    `verdict` gives the score and, below full credit, its reason; calling the scorer gives the score alone. A
    `judge` reward (at the top or for a field) needs a model call: `grade` awaits it through `judge`."""

    def __init__(self, reward: Any, several: bool = False, judge: Judging | None = None) -> None:
        self.reward = reward
        self.judge = judge
        self.judged = needs_judge(reward)
        self._verdict = _scorer(reward, several)

    def __call__(self, answer: str | None, expected: str, example: Any = None) -> float:
        return self.verdict(answer, expected, example).score

    def verdict(self, answer: str | None, expected: str, example: Any = None) -> Verdict:
        """A rule reward's verdict, at once (a judged reward needs `grade`)."""
        if self.judged:
            raise TypeError("a judge reward is graded by a model call: await Scorer.grade")
        return self._verdict(answer, expected, example)

    async def grade(self, answer: str | None, expected: str, example: Any = None) -> Verdict:
        """Any reward's verdict; the judge's calls go through the LM layer like the task's."""
        if not self.judged:
            return self._verdict(answer, expected, example)
        if self.judge is None:
            raise TypeError("a judge reward needs a judge (Scorer(..., judge=...))")
        if isinstance(self.reward, FieldsReward):
            return await _judged_fields(self.reward, self.judge, answer, expected, example)
        return await self.judge(self.reward, answer, expected, example)


class Judging(Protocol):
    """What grades a `judge` reward: `scoring.judge.Judge`, which calls the judge model."""

    async def __call__(self, reward: Any, answer: str | None, expected: str, example: Any) -> Verdict: ...


Score = Callable[[str | None, str, Any], Verdict]
FULL = Verdict(1.0)
NO_ANSWER = "no answer could be read"


def needs_judge(reward: Any) -> bool:
    """Whether the reward (or one of its fields) is graded by a model."""
    if isinstance(reward, FieldsReward):
        return any(isinstance(sub, JudgeReward) for sub in reward.fields.values())
    return isinstance(reward, JudgeReward)


def _scorer(reward: Any, several: bool = False) -> Score:
    """`several`: the answer has several fields (a `python` reward then gets dicts, not text)."""
    if isinstance(reward, FieldsReward):
        return _fields(reward)
    if isinstance(reward, PythonReward):
        return python_scorer(reward, several)
    if isinstance(reward, JudgeReward):
        return lambda answer, expected, example: Verdict(0.0, "judged by a model: not gradable at once")
    plain = _plain(reward)
    return lambda answer, expected, example: Verdict(0.0, NO_ANSWER) if answer is None else plain(answer, expected)


def quoted(text: str, limit: int = 80) -> str:
    """A value as a reason quotes it: repr, shortened."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _either(ok: bool, reason: Callable[[], str]) -> Verdict:
    return FULL if ok else Verdict(0.0, reason())


def _plain(reward: Any) -> Callable[[str, str], Verdict]:
    """A reward of one answer string against one expected string."""
    if isinstance(reward, ExactMatchReward):
        steps = reward.normalize
        return lambda answer, expected: _either(normalize(answer, steps) == normalize(expected, steps),
                                                lambda: f"expected {quoted(expected)}, got {quoted(answer)}")
    if isinstance(reward, RegexReward):
        return _regex(reward)
    if isinstance(reward, ContainsReward):
        steps = reward.normalize
        return lambda answer, expected: _either(_contains(normalize(answer, steps), normalize(expected, steps)),
                                                lambda: f"expected {quoted(expected)}, got {quoted(answer)}")
    if isinstance(reward, NumericReward):
        return lambda answer, expected: _close(answer, expected, reward)
    if isinstance(reward, F1Reward):
        steps = reward.normalize
        return lambda answer, expected: _f1(normalize(answer, steps), normalize(expected, steps))
    raise TypeError(f"no scorer for {reward!r}")


def _regex(reward: RegexReward) -> Callable[[str, str], Verdict]:
    flags = re.IGNORECASE if reward.ignore_case else 0
    steps = reward.normalize
    if reward.group is not None:
        extract = re.compile(reward.pattern, flags)

        def captured(answer: str, expected: str) -> Verdict:
            found = extract.search(answer)
            value = found.group(reward.group) if found else None
            if value is None:
                return Verdict(0.0, f"no match for {reward.pattern} in {quoted(answer)}")
            return _either(normalize(value, steps) == normalize(expected, steps),
                           lambda: f"expected {quoted(expected)}, captured {quoted(value)}")

        return captured

    def matched(answer: str, expected: str) -> Verdict:
        pattern = reward.pattern.replace("{expected}", re.escape(normalize(expected, steps)))
        return _either(re.search(pattern, answer, flags) is not None,
                       lambda: f"no match for {pattern} in {quoted(answer)}")

    return matched


def _contains(answer: str, expected: str) -> bool:
    """The expected text in the answer as whole words (an empty expected value is in nothing)."""
    return bool(expected) and re.search(rf"(?<!\w){re.escape(expected)}(?!\w)", answer) is not None


def _close(answer: str, expected: str, reward: NumericReward) -> Verdict:
    """The answer's last number against the expected one, as `math.isclose` with the reward's tolerances."""
    numbers = NUMBER.findall(answer)
    got = to_number(numbers[-1], "number") if numbers else None
    want = to_number(expected.strip(), "number")
    if want is None:
        return Verdict(0.0, f"the expected value {quoted(expected)} is not a number")
    if got is None:
        return Verdict(0.0, f"expected {want:g}, no number in {quoted(answer)}")
    tolerance = ", ".join(f"{name} {value:g}" for name, value in (("abs_tol", reward.abs_tol),
                                                                    ("rel_tol", reward.rel_tol)) if value)
    return _either(math.isclose(got, want, rel_tol=reward.rel_tol, abs_tol=reward.abs_tol),
                   lambda: f"expected {want:g}, got {got:g}" + (f" ({tolerance})" if tolerance else ""))


def token_f1(answer: str, expected: str) -> float:
    """Token-level F1: words shared (with multiplicity) over the answer's and the expected value's words."""
    return _f1(answer, expected).score


def _f1(answer: str, expected: str) -> Verdict:
    said, wanted = _WORD.findall(answer), _WORD.findall(expected)
    if not said or not wanted:
        return _either(said == wanted, lambda: "the answer has no words" if not said else "nothing expected")
    shared = sum((Counter(said) & Counter(wanted)).values())
    score = 0.0
    if shared:
        precision, recall = shared / len(said), shared / len(wanted)
        score = 2 * precision * recall / (precision + recall)
    if score == 1.0:
        return FULL
    missing, extra = Counter(wanted) - Counter(said), Counter(said) - Counter(wanted)
    parts = [f"{name}: {_words(words)}" for name, words in (("missing", missing), ("extra", extra)) if words]
    return Verdict(score, "; ".join(parts))


def _words(words: Counter[str], limit: int = 8) -> str:
    listed = list(words.elements())
    return " ".join(listed[:limit]) + (f" (+{len(listed) - limit} more)" if len(listed) > limit else "")


def _fields(reward: FieldsReward) -> Score:
    """The weighted mean of each field's reward; a field missing from the answer scores 0 alone."""
    per_field: dict[str, Score] = {name: _scorer(sub) for name, sub in reward.fields.items()}
    default = _scorer(ExactMatchReward(type="exact_match"))

    def score(answer: str | None, expected: str, example: Any) -> Verdict:
        wanted, said = expected_object(expected), expected_object(answer) if answer is not None else {}
        verdicts = {name: per_field.get(name, default)(said.get(name), wanted[name], example) for name in wanted}
        return _weighted(reward, wanted, verdicts)

    return score


def _weighted(reward: FieldsReward, wanted: dict[str, str], verdicts: dict[str, Verdict]) -> Verdict:
    """The fields' weighted mean, and each field below full credit with its reason."""
    weights = {name: reward.weights.get(name, 1.0) for name in wanted}
    total = sum(weights.values())
    if not total:
        return Verdict(0.0, "no field to score")
    gained = sum(weight * verdicts[name].score for name, weight in weights.items() if weight)
    reasons = [f"{name}: {verdicts[name].reason or 'missing'}" for name, weight in weights.items()
               if weight and verdicts[name].score < 1]
    return Verdict(gained / total, "; ".join(reasons) or None)


async def _judged_fields(reward: FieldsReward, judge: Judging, answer: str | None, expected: str,
                         example: Any) -> Verdict:
    """Fields with a judged one: the rule fields at once, the judged ones through the judge."""
    wanted, said = expected_object(expected), expected_object(answer) if answer is not None else {}
    default = ExactMatchReward(type="exact_match")
    verdicts = {}
    for name in wanted:
        sub = reward.fields.get(name, default)
        if isinstance(sub, JudgeReward):
            verdicts[name] = await judge(sub, said.get(name), wanted[name], example)
        else:
            verdicts[name] = _scorer(sub)(said.get(name), wanted[name], example)
    return _weighted(reward, wanted, verdicts)
