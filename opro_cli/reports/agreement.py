"""`opro validate --judge-agreement`: the judge's agreement with a person, as lines for the terminal."""

from __future__ import annotations

import math

from ..scoring.agreement import JudgeAgreement
from .history import shorten


def agreement_lines(found: JudgeAgreement, width: int = 80) -> list[str]:
    scale = "pass/fail" if found.reward.bounds is None else f"scale {found.reward.scale}"
    lines = [f"judge agreement: {len(found.rows)} labelled rows of {found.path}, judge {found.judge_model} ({scale})"]
    for stat in found.statistics:
        value = f"{stat.value:.1%}" if stat.name == "accuracy" else f"{stat.value:.2f}"
        interval = "95% interval unknown (too few rows or no spread)" if math.isnan(stat.low) else (
            f"95% interval {stat.low:.1%} to {stat.high:.1%}" if stat.name == "accuracy"
            else f"95% interval {stat.low:.2f} to {stat.high:.2f}")
        lines.append(f"{stat.name}: {'n/a' if math.isnan(stat.value) else value} ({interval})")
    lines.append(f"unreadable verdicts: {found.unreadable} (scored as the lowest grade)")
    worst = found.disagreements()
    if worst:
        lines.append("where they disagree most:")
        for row in worst:
            lines.append(f"  {found.path}:{row.line}: person {_grade(row.person, found)}, judge "
                         f"{_grade(row.judge.score, found)}: {shorten(row.judge.reason or '-', width - 30)}")
            lines.append(f"    answer: {shorten(row.answer, width - 12)}")
    return lines


def _grade(value: float, found: JudgeAgreement) -> str:
    bounds = found.reward.bounds
    if bounds is None:
        return "pass" if value == 1 else "fail"
    return f"{bounds[0] + value * (bounds[1] - bounds[0]):g}"
