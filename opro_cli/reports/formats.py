"""Machine-readable results of `opro eval` and `opro compare`: a JSON summary for scripts, a JSON document
with every example, JUnit XML for CI test reports, and the JSONL rows `eval -o x.jsonl` has always written.

Which format a file gets: `--format` if given, else its suffix (.xml JUnit, .json JSON, anything else JSONL).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..artifact import Artifact
from ..errors import InputError
from ..files import write_atomic_stream
from ..scoring.evaluation import Comparison, EvalResult
from ..scoring.prediction import Prediction
from ..scoring.stats import CONFIDENCE, PairedDifference, is_graded, mean_interval

FILE_FORMATS = ("json", "junit", "jsonl")
_SUFFIXES = {".xml": "junit", ".json": "json"}
# XML 1.0 cannot carry these, and a model's output may contain anything.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def file_format(path: Path, requested: str | None) -> str:
    """The format written to `path`: the one asked for, else the one its suffix names (JSONL by default)."""
    if requested is None:
        return _SUFFIXES.get(path.suffix.lower(), "jsonl")
    if requested not in FILE_FORMATS:
        raise InputError(f"--format {requested} is for the terminal; a file takes one of: {', '.join(FILE_FORMATS)}")
    return requested


def points(value: float) -> str:
    """A score difference in percentage points, signed: '+7.5' (never '-0.0')."""
    return f"{round(value * 100, 1) + 0.0:+.1f}"


def interval_text(difference: PairedDifference) -> str:
    """'+7.5 points (95% CI +2.5 to +12.5)'."""
    mean, low, high = difference
    return f"{points(mean)} points ({CONFIDENCE:.0%} CI {points(low)} to {points(high)})"


def is_right(prediction: Prediction, threshold: float = 1.0) -> bool:
    """Whether an example passes: its reward reaches the threshold (full reward by default)."""
    return prediction.reward >= threshold


@dataclass
class EvalReport:
    """One evaluation with what its outputs need: where it came from, the gate, the baseline. The examples are
    read back from the evaluation's rows on disk as each output is written, never all held in memory."""

    artifact: Path
    data: Path
    task: str
    template: str
    result: EvalResult
    min_score: float | None = None
    baseline: Comparison | None = None
    seconds: float = 0.0
    pass_threshold: float = 1.0  # an example passes (JUnit) when its reward reaches this

    @classmethod
    def build(
        cls,
        artifact_path: Path,
        artifact: Artifact,
        data: Path,
        result: EvalResult,
        min_score: float | None = None,
        baseline: Comparison | None = None,
        seconds: float = 0.0,
        pass_threshold: float = 1.0,
    ) -> EvalReport:
        spec = artifact.task_spec()
        return cls(artifact_path, data, artifact.task, spec.prompt.input, result, min_score, baseline, seconds,
                   pass_threshold)

    @property
    def correct(self) -> int:
        """Answers with full reward."""
        return sum(1 for reward in self.result.rewards if reward >= 1.0)

    @property
    def passing(self) -> int:
        """Answers whose reward reaches the pass threshold (the JUnit testcases that pass)."""
        return sum(1 for reward in self.result.rewards if reward >= self.pass_threshold)

    @property
    def interval(self) -> tuple[float, float]:
        """The 95 % interval of the mean reward."""
        return mean_interval(self.result.rewards)

    @property
    def passed(self) -> bool:
        return self.min_score is None or self.result.score >= self.min_score

    def summary(self) -> dict[str, Any]:
        """One JSON object for scripts (`--json`), also the head of the JSON document."""
        result = self.result
        summary: dict[str, Any] = {
            "artifact": str(self.artifact),
            "task": self.task,
            "data": str(self.data),
            "model": result.model,
            "examples": result.examples,
            "correct": self.correct,
            "score": result.score,
            "score_ci95": list(self.interval),
            "graded": is_graded(result.rewards),
            "pass_threshold": self.pass_threshold,
            "passing": self.passing,
            "parse_failures": result.parse_failures,
            "min_score": self.min_score,
            "passed": self.passed,
            "usage": result.usage.as_dict(),
            "seconds": round(self.seconds, 3),
        }
        if result.judge_usage is not None:  # the judge's calls, also counted in `usage`
            summary["judge_usage"] = result.judge_usage.as_dict()
            summary["unreadable_verdicts"] = result.unreadable_verdicts
        if self.baseline is not None:
            summary["baseline"] = baseline_summary(self.baseline)
        return summary

    def _example_rows(self) -> Iterator[dict[str, Any]]:
        baseline = self.baseline.a.rewards if self.baseline is not None else None
        for index, (line, p) in enumerate(self.result.rows):
            row: dict[str, Any] = {"line": line, "inputs": p.inputs, "expected": p.expected, "answer": p.answer,
                                   "raw": p.raw, "reward": p.reward, "reason": p.reason, "error": p.error}
            if baseline is not None:
                row["baseline_reward"] = baseline[index]
            yield row

    def document(self) -> dict[str, Any]:
        """The JSON format: the summary and every example with its answer and reward."""
        return {"summary": self.summary(), "examples": list(self._example_rows())}

    def _json_parts(self) -> Iterator[str]:
        """The JSON document piece by piece, one example a line."""
        yield '{"summary": ' + json.dumps(self.summary(), ensure_ascii=False) + ',\n"examples": ['
        for index, row in enumerate(self._example_rows()):
            yield ("\n" if index == 0 else ",\n") + json.dumps(row, ensure_ascii=False)
        yield "\n]}\n"

    def junit(self) -> str:
        """JUnit XML: one testcase per example (a failure carries input, expected and actual), plus one for
        the --min-score gate when there is one."""
        return "".join(self._junit_parts())

    def _junit_parts(self) -> Iterator[str]:
        failures = self.result.examples - self.passing + (0 if self.passed else 1)
        tests = self.result.examples + (0 if self.min_score is None else 1)
        seconds = f"{self.seconds:.3f}"
        root = ET.Element("testsuites", name="opro eval", tests=str(tests), failures=str(failures), errors="0",
                          time=seconds)
        suite = ET.SubElement(root, "testsuite", name=self.task, tests=str(tests), failures=str(failures),
                              errors="0", skipped="0", time=seconds)
        properties = ET.SubElement(suite, "properties")
        for name, value in (("artifact", self.artifact), ("data", self.data), ("model", self.result.model),
                            ("score", f"{self.result.score:.4f}")):
            ET.SubElement(properties, "property", name=name, value=_xml_text(str(value)))
        ET.SubElement(suite, "testcase", name="-")  # where the examples go, written one at a time below
        ET.indent(root)
        head, tail = ET.tostring(root, encoding="unicode").split('<testcase name="-" />')
        yield '<?xml version="1.0" encoding="UTF-8"?>\n' + head
        for index, case in enumerate(self._testcases()):
            ET.indent(case, space="  ", level=2)
            yield ("" if index == 0 else "\n    ") + ET.tostring(case, encoding="unicode").rstrip()
        yield tail + "\n"

    def _testcases(self) -> Iterator[ET.Element]:
        classname = f"{self.task}.{self.data.stem}"
        for line, p in self.result.rows:
            case = ET.Element("testcase", classname=classname, name=f"{self.data.name}:{line}")
            if not is_right(p, self.pass_threshold):
                kind = "unparseable answer" if p.answer is None else "wrong answer" if p.reward == 0 else "partial answer"
                failure = ET.SubElement(case, "failure", type=kind, message=_xml_text(self._failure_message(p)))
                failure.text = _xml_text(self._failure_text(p))
            yield case
        if self.min_score is not None:
            case = ET.Element("testcase", classname=classname, name=f"score >= {self.min_score:.1%}")
            if not self.passed:
                ET.SubElement(case, "failure", type="quality gate",
                              message=f"score {self.result.score:.1%} is below {self.min_score:.1%}")
            yield case

    def _failure_message(self, p: Prediction) -> str:
        if p.answer is None:
            return f"expected {p.expected!r}, the answer could not be read ({p.error})"
        message = p.reason or f"expected {p.expected!r}, got {p.answer!r}"  # the reward's own reason, if it gave one
        return message if p.reward == 0 else f"{message} (reward {p.reward:g})"

    def _failure_text(self, p: Prediction) -> str:
        rendered = self.template.format_map(p.inputs)
        actual = p.answer if p.answer is not None else f"(unreadable: {p.error})"
        why = f"\n\nreason:\n{p.reason}" if p.reason else ""
        return f"input:\n{rendered}\n\nexpected:\n{p.expected}\n\nactual:\n{actual}{why}\n\nraw output:\n{p.raw}\n"

    def write(self, path: Path, fmt: str) -> None:
        """Write one output file in `fmt` (json, junit or jsonl), atomically, example by example."""
        if fmt == "jsonl":
            self.result.rows.write_jsonl(path)
            return
        if fmt not in ("json", "junit"):  # pragma: no cover - file_format() only returns the three above
            raise InputError(f"unknown format {fmt!r}")
        with write_atomic_stream(path) as out:
            for part in self._json_parts() if fmt == "json" else self._junit_parts():
                out.write(part)


def baseline_summary(comparison: Comparison) -> dict[str, Any]:
    """The seed prompt's score and the artifact's gain over it (the artifact is b, the seed prompt a)."""
    diff = comparison.difference
    return {
        "score": comparison.a.score,
        "difference": diff.mean_diff,
        "low": diff.low,
        "high": diff.high,
        "confidence": CONFIDENCE,
        "verdict": "better" if diff.better else "worse" if diff.worse else "no significant difference",
    }


def compare_summary(comparison: Comparison, a: Path, b: Path, data: Path, seconds: float = 0.0) -> dict[str, Any]:
    """`opro compare --json`: both scores, the paired interval of b - a, the agreement counts, the verdict."""
    diff, counts = comparison.difference, comparison.agreement
    return {
        "a": {"artifact": str(a), "model": comparison.a.model, "score": comparison.a.score},
        "b": {"artifact": str(b), "model": comparison.b.model, "score": comparison.b.score},
        "data": str(data),
        "examples": comparison.a.examples,
        "difference": diff.mean_diff,
        "low": diff.low,
        "high": diff.high,
        "confidence": CONFIDENCE,
        "agreement": counts._asdict(),
        "verdict": comparison.verdict,
        "worse": diff.worse,
        "usage": comparison.a.usage.as_dict(),
        "seconds": round(seconds, 3),
    }


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)
