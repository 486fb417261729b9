"""The `grade` benchmark task's reward (`reward: {type: python, function: grade_reward.py:score}`): a star
rating is ordinal, so a rating one star off is half right, as a user scoring reviews would want it."""

from __future__ import annotations

import re


def score(answer: str | None, expected: str, example: dict) -> float:
    """1 for the right rating, 0.5 one star off, 0 otherwise or when the answer holds no rating 1-5."""
    found = re.search(r"\d+", answer or "")
    if found is None or not 1 <= int(found.group()) <= 5:
        return 0.0
    distance = abs(int(found.group()) - int(example["stars"]))
    return {0: 1.0, 1: 0.5}.get(distance, 0.0)
