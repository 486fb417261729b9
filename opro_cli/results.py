"""Per-example results of an evaluation, as JSONL (one line per example, written atomically)."""

from __future__ import annotations

import json
from pathlib import Path

from .files import write_atomic
from .optimizer import Prediction


def write_results_jsonl(path: str | Path, predictions: list[Prediction]) -> None:
    lines = (
        json.dumps(
            {
                "inputs": p.inputs,
                "expected": p.expected,
                "answer": p.answer,
                "raw": p.raw,
                "reward": p.reward,
                "error": p.error,
            },
            ensure_ascii=False,
        )
        for p in predictions
    )
    write_atomic(path, "".join(line + "\n" for line in lines))
