"""Rewards: score one parsed answer against its expected value, 0.0 or 1.0 (floats leave room for partial)."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence

from ..spec import ExactMatchReward, RegexReward

_PUNCTUATION = string.punctuation + "“”‘’…"
_STEPS: dict[str, Callable[[str], str]] = {
    "strip": str.strip,
    "lowercase": str.lower,
    "collapse_whitespace": lambda text: " ".join(text.split()),
    "strip_punctuation": lambda text: text.strip().strip(_PUNCTUATION).strip(),
    "strip_quotes": lambda text: text.strip().strip("\"'`“”‘’").strip(),
}


def normalize(text: str, steps: Sequence[str]) -> str:
    """Apply the spec's normalisations in the order it lists them."""
    for step in steps:
        text = _STEPS[step](text)
    return text


class Scorer:
    """Scores answers with the spec's reward; build once per run (the regex compiles once)."""

    def __init__(self, reward: ExactMatchReward | RegexReward) -> None:
        self.reward = reward
        self._flags = re.IGNORECASE if isinstance(reward, RegexReward) and reward.ignore_case else 0
        self._extract = (
            re.compile(reward.pattern, self._flags)
            if isinstance(reward, RegexReward) and reward.group is not None
            else None
        )

    def __call__(self, answer: str | None, expected: str) -> float:
        if answer is None:
            return 0.0
        steps = self.reward.normalize
        if isinstance(self.reward, ExactMatchReward):
            return float(normalize(answer, steps) == normalize(expected, steps))
        if self._extract is not None:
            found = self._extract.search(answer)
            captured = found.group(self.reward.group) if found else None
            return float(captured is not None and normalize(captured, steps) == normalize(expected, steps))
        pattern = self.reward.pattern.replace("{expected}", re.escape(normalize(expected, steps)))
        return float(re.search(pattern, answer, self._flags) is not None)
