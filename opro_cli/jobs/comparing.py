"""`opro compare` as a job: two artifacts' prompts on the same data, through one LM (one cache, one usage)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..artifact import load_artifact
from ..data import scan_dataset
from ..scoring.evaluation import Comparison
from ..scoring.prediction import Prediction
from .evaluating import evaluate_prompt
from .options import CallOptions


class CompareJob:
    """`opro compare`: each artifact's prompt with its own spec and answer format, on the same data, through one
    LM (one cache, one usage count). Artifacts and data are loaded when the job is made, so bad input fails before
    a call (and the number of answers to come is known, for the time left)."""

    def __init__(self, a_path: Path, b_path: Path, data: Path, options: CallOptions, model: str | None = None) -> None:
        self.a, self.b = load_artifact(a_path), load_artifact(b_path)
        self.data = (scan_dataset(data, self.a.task_spec()), scan_dataset(data, self.b.task_spec()))  # streamed later
        self.model = model
        self.lm = options.make_lm(self.a.task_spec().optimizer.concurrency)

    @property
    def total(self) -> int:
        """Answers the comparison will score: every example, once per prompt."""
        return sum(dataset.examples for dataset in self.data)

    def run(self, on_done: Callable[[Prediction], None] | None = None) -> Comparison:
        a = evaluate_prompt(self.a.task_spec(), self.a.prompt, self.data[0], self.a, self.model, on_done=on_done, lm=self.lm)
        b = evaluate_prompt(self.b.task_spec(), self.b.prompt, self.data[1], self.b, self.model, on_done=on_done, lm=self.lm)
        return Comparison.of(a, b)
