"""`opro validate SPEC --judge-agreement LABELLED.jsonl`: the spec's judge grades answers a person graded, and
the two are compared (`scoring.agreement`): accuracy and Cohen's kappa for pass/fail, Spearman's rho for a
scale, and the rows where they disagree most. Run it before optimising against a judge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import event_loop
from ..data import Example
from ..errors import InputError
from ..scoring.agreement import GradedRow, JudgeAgreement, accuracy, cohen_kappa, spearman
from ..scoring.judge import Judge
from ..scoring.prediction import Verdict
from ..scoring.runner import gather_all, structured_output_supported
from ..spec import JudgeReward, TaskSpec, load_spec
from .options import CallOptions

_PASS, _FAIL = {"pass", "true", "1", "yes"}, {"fail", "false", "0", "no"}


def judge_agreement(spec_path: Path, labelled: Path, options: CallOptions | None = None) -> JudgeAgreement:
    """Grade every labelled row with the spec's judge (through the LM layer: cached, budgeted) and compare.
    Bad input (no judge reward, a row without its fields or grade) fails before any call."""
    spec = load_spec(spec_path)
    reward = spec.reward
    if not isinstance(reward, JudgeReward):
        raise InputError(f"{spec_path}: reward: --judge-agreement needs a reward of type judge, not {reward.type!r}")
    examples, grades = read_labelled(labelled, spec, reward)
    lm = (options or CallOptions()).make_lm(spec.optimizer.concurrency)
    judge = Judge(lm, spec.proposer, spec.prompt.input, structured_output_supported)
    answers = [str(example.record["answer"]) for example in examples]  # type: ignore[index]

    async def grade() -> list[Verdict]:
        return await gather_all(judge(reward, answer, example.expected, example)
                                for answer, example in zip(answers, examples))

    verdicts = event_loop.run(grade())
    rows = [GradedRow(e.line, a, g, v) for e, a, g, v in zip(examples, answers, grades, verdicts)]
    person, judged = [row.person for row in rows], [row.judge.score for row in rows]
    if reward.bounds is None:
        statistics = [accuracy([p == 1 for p in person], [j == 1 for j in judged]),
                      cohen_kappa([p == 1 for p in person], [j == 1 for j in judged])]
    else:
        statistics = [spearman(person, judged)]
    return JudgeAgreement(labelled, reward, judge.model(reward).name, rows, statistics)


def read_labelled(path: Path, spec: TaskSpec, reward: JudgeReward) -> tuple[list[Example], list[float]]:
    """The rows as examples (inputs, the expected value when the judge sees it, the answer in `record`) and the
    person's grades on [0, 1]; the first problem as 'file:line: field: message'."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    needed = [*spec.prompt.input_fields, "answer", "score"]
    if reward.reference:
        needed.append(spec.prompt.output_fields[0])
    examples, grades = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise InputError(f"{path}:{number}: not a JSON object") from None
        if not isinstance(record, dict):
            raise InputError(f"{path}:{number}: not a JSON object")
        for name in needed:
            if record.get(name) is None:
                raise InputError(f"{path}:{number}: {name}: required field is missing")
        grades.append(_grade(record["score"], reward, f"{path}:{number}: score"))
        expected = _text(record[spec.prompt.output_fields[0]]) if reward.reference else ""
        inputs = {name: _text(record[name]) for name in spec.prompt.input_fields}
        examples.append(Example(number, inputs, expected, record, path))
    if not examples:
        raise InputError(f"{path}: no labelled rows")
    return examples, grades


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _grade(value: Any, reward: JudgeReward, where: str) -> float:
    """A person's grade on [0, 1]: pass/fail (or true/false, 1/0), or a number on the judge's scale."""
    bounds = reward.bounds
    if bounds is None:
        word = str(value).strip().lower()
        if word in _PASS | _FAIL:
            return 1.0 if word in _PASS else 0.0
        raise InputError(f"{where}: expected pass or fail, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not bounds[0] <= value <= bounds[1]:
        raise InputError(f"{where}: expected a number from {bounds[0]} to {bounds[1]} (scale {reward.scale}), got {value!r}")
    return (value - bounds[0]) / (bounds[1] - bounds[0])
