"""Per-example results of an evaluation, kept on disk as they come rather than in memory, so `opro eval` on
100,000 examples runs in flat memory; the `-o` files are written from them when the evaluation ends.

The rows are the predictions as JSON lines, in data order; only each example's reward and line number stay in
memory (16 bytes an example). `eval -o x.jsonl` writes `inputs`, `expected`, `answer`, `raw`, `reward`, `reason`
(why the reward is below full credit), `error`.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from ..files import write_atomic_stream
from .prediction import Prediction

FIELDS = ("inputs", "expected", "answer", "raw", "reward", "reason", "error")
FLUSH_EVERY = 0.5  # seconds between flushes of the rows file: one write per row cost as much as 0.3 ms a call


class ResultRows:
    """Rows appended while an evaluation runs, to `directory/.NAME.partial` when a place is given (next to
    the first `-o` file, so one can follow them), else to an anonymous temporary file; removed by `close()`."""

    def __init__(self, near: Path | None = None) -> None:
        self.rewards = array("d")
        self.lines = array("l")
        self.parse_failures = 0
        self.unreadable_verdicts = 0
        self._flushed = 0.0
        if near is not None:
            near.parent.mkdir(parents=True, exist_ok=True)
            self.path: Path | None = near.with_name(f".{near.name}.partial")
            self._file: IO[str] = self.path.open("w+", encoding="utf-8")
        else:
            self.path = None
            self._file = tempfile.TemporaryFile("w+", encoding="utf-8")

    @classmethod
    def of(cls, predictions: Iterable[Prediction], lines: Iterable[int] | None = None) -> ResultRows:
        rows = cls()
        numbers = iter(lines) if lines is not None else iter(range(1, 1 << 62))
        for prediction in predictions:
            rows.add(next(numbers), prediction)
        return rows

    def add(self, line: int, prediction: Prediction) -> None:
        self._file.write(prediction.model_dump_json() + "\n")
        now = time.monotonic()
        if now - self._flushed >= FLUSH_EVERY:  # on disk as they come: `tail -f` follows a long evaluation
            self._file.flush()
            self._flushed = now
        self.rewards.append(prediction.reward)
        self.lines.append(line)
        self.parse_failures += prediction.answer is None
        self.unreadable_verdicts += prediction.unreadable_verdict

    def __len__(self) -> int:
        return len(self.rewards)

    def __iter__(self) -> Iterator[tuple[int, Prediction]]:
        """(line, prediction) in data order, read back from disk (once the evaluation has ended)."""
        self._file.flush()
        self._file.seek(0)
        try:
            for line, text in zip(self.lines, self._file):
                yield line, Prediction.model_validate_json(text)
        finally:
            self._file.seek(0, os.SEEK_END)

    def write_jsonl(self, path: str | Path) -> None:
        """One line per example (`inputs`, `expected`, `answer`, `raw`, `reward`, `reason`, `error`), atomically."""
        with write_atomic_stream(path) as out:
            for _, p in self:
                out.write(json.dumps({name: getattr(p, name) for name in FIELDS}, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self._file.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def write_results_jsonl(path: str | Path, predictions: list[Prediction]) -> None:
    rows = ResultRows.of(predictions)
    try:
        rows.write_jsonl(path)
    finally:
        rows.close()
