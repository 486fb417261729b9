"""The `judge` reward: a model grades an answer against the spec's rubric.

The verdict is asked as a JSON object with the reason before the score (a model that explains first grades more
carefully), by JSON schema where the provider constrains output (the embedded model included), and read
tolerantly: JSON anywhere in the reply, else `score: ...` or a lone PASS/FAIL. A reply that gives no verdict, or
a grade outside the scale, scores 0 and is counted ("unreadable verdicts"); it never stops a run. The judge's
calls go through the same `LM` as the task's (cache, retries, concurrency, budgets), counted apart as `judge`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..lm import LM
from ..spec.meta_template import fill
from ..spec import JudgeReward, ModelConfig
from .prediction import Verdict
from .values import NUMBER, json_object

JUDGE_PURPOSE = "judge"  # how `LM.complete` counts the judge's calls apart from the task model's
DEFAULT_JUDGE_TOKENS = 300  # the reason and the score; a judge model without max_tokens gets this many
NO_ANSWER = "no answer could be read"

DEFAULT_PROMPT = """\
You are grading an answer to a task against a rubric. Be strict: the answer passes only if it meets the rubric.

Rubric:
{rubric}

The task's input:
{input}

A reference answer (it meets the rubric):
{expected}

The answer to grade:
{answer}

{format}"""


@dataclass(frozen=True)
class JudgeRequest:
    """One judge call: the model, the messages and the params that go with them."""

    model: ModelConfig
    messages: list[dict[str, str]]
    response_format: dict[str, Any] | None
    temperature: float


class Judge:
    """Grades answers with the `judge` rewards of one task; `unreadable` counts the verdicts it could not read."""

    def __init__(self, lm: LM, default_model: ModelConfig, input_template: str,
                 structured: Callable[[ModelConfig], bool]) -> None:
        self.lm = lm
        self.default_model = default_model
        self.input_template = input_template
        self.structured = structured  # whether a model's provider constrains output by schema
        self.unreadable = 0

    def model(self, reward: JudgeReward) -> ModelConfig:
        """The judge's model: the reward's own, or the spec's optimizer model; 300 tokens unless it says more."""
        model = reward.model or self.default_model
        return model if model.max_tokens is not None else model.model_copy(update={"max_tokens": DEFAULT_JUDGE_TOKENS})

    def messages(self, reward: JudgeReward, inputs: dict[str, str], answer: str, expected: str) -> list[dict[str, str]]:
        values = {"rubric": reward.rubric.strip(), "input": self.input_template.format_map(inputs),
                  "answer": answer, "expected": expected if reward.reference else "",
                  "format": verdict_instruction(reward)}
        if reward.prompt is not None:  # the user's words, then how to reply (the verdict is read as JSON)
            return [{"role": "user", "content": f"{reward.prompt.format_map(values).rstrip()}\n\n{values['format']}"}]
        return [{"role": "user", "content": fill(DEFAULT_PROMPT, values)}]

    def response_format(self, reward: JudgeReward, model: ModelConfig) -> dict[str, Any] | None:
        if not self.structured(model):
            return None
        return {"type": "json_schema", "json_schema": {"name": "verdict", "schema": verdict_schema(reward), "strict": True}}

    def request(self, reward: JudgeReward, inputs: dict[str, str], answer: str, expected: str) -> JudgeRequest:
        """The judge's call for one answer: the live call and a batch's line are built from it."""
        model = self.model(reward)
        return JudgeRequest(model, self.messages(reward, inputs, answer, expected), self.response_format(reward, model),
                            model.temperature if model.temperature is not None else 0.0)

    async def __call__(self, reward: JudgeReward, answer: str | None, expected: str, example: Any) -> Verdict:
        if answer is None:
            return Verdict(0.0, NO_ANSWER)
        call = self.request(reward, getattr(example, "inputs", None) or {}, answer, expected)
        completion = await self.lm.complete(call.model, call.messages, response_format=call.response_format,
                                            temperature=call.temperature, purpose=JUDGE_PURPOSE)
        verdict = read_verdict(completion.text, reward)
        self.unreadable += verdict.unreadable
        return verdict


def verdict_instruction(reward: JudgeReward) -> str:
    bounds = reward.bounds
    score = '"pass" or "fail"' if bounds is None else f"an integer from {bounds[0]} (worst) to {bounds[1]} (best)"
    return ('Reply with a JSON object only: first "reason" (one or two sentences: what the answer does and does '
            f'not do of the rubric), then "score" ({score}).')


def verdict_schema(reward: JudgeReward) -> dict[str, Any]:
    bounds = reward.bounds
    score: dict[str, Any] = {"type": "string", "enum": ["pass", "fail"]} if bounds is None else \
        {"type": "integer", "minimum": bounds[0], "maximum": bounds[1]}
    return {"type": "object", "properties": {"reason": {"type": "string"}, "score": score},
            "required": ["reason", "score"], "additionalProperties": False}


_PASS = {"pass", "passed", "yes", "true", "1", "correct", "good"}
_FAIL = {"fail", "failed", "no", "false", "0", "incorrect", "bad"}
_SCORE_LINE = re.compile(r"[\"']?score[\"']?\s*[:=]\s*[\"']?([\w.\-]+)", re.IGNORECASE)
_REASON_LINE = re.compile(r"[\"']?reason[\"']?\s*[:=]\s*[\"']?(.+?)[\"']?\s*,?\s*$", re.IGNORECASE | re.MULTILINE)


def read_verdict(text: str, reward: JudgeReward) -> Verdict:
    """The judge's reply as a verdict: its score mapped to [0, 1] and its reason; unreadable scores 0."""
    obj = json_object(text)
    if obj is not None and "score" in obj:
        raw_score, reason = obj.get("score"), obj.get("reason")
    else:
        found, said = _SCORE_LINE.search(text), _REASON_LINE.search(text)
        raw_score, reason = (found.group(1) if found else None), (said.group(1) if said else None)
        if raw_score is None and reward.bounds is None:
            words = {word.lower() for word in re.findall(r"\b(PASS|FAIL)\b", text)}
            raw_score = words.pop() if len(words) == 1 else None
    reason = " ".join(str(reason).split()) if reason not in (None, "") else None
    score, problem = _mapped(raw_score, reward)
    if problem:
        return Verdict(0.0, f"unreadable verdict: {problem}", unreadable=True)
    return Verdict(score, reason if score < 1 else None)


def _mapped(raw: Any, reward: JudgeReward) -> tuple[float, str | None]:
    """(the grade on [0, 1], None) or (0, why it cannot be read)."""
    if raw is None:
        return 0.0, "no score in the reply"
    bounds = reward.bounds
    if bounds is None:
        word = str(raw).strip().lower()
        if isinstance(raw, bool) or word in _PASS | _FAIL:
            return (1.0 if (raw is True or word in _PASS) else 0.0), None
        return 0.0, f"score {raw!r} is not pass or fail"
    numbers = NUMBER.findall(str(raw))
    if isinstance(raw, bool) or not numbers:
        return 0.0, f"score {raw!r} is not a number on the scale {reward.scale}"
    value = float(numbers[0].replace(",", ""))
    low, high = bounds
    if not low <= value <= high:
        return 0.0, f"score {value:g} is outside the scale {reward.scale}"
    return (value - low) / (high - low), None


