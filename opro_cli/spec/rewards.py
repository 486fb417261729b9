"""How an answer is scored, as the spec declares it: the reward types and their settings (checked at load time).
Every reward is a number in [0, 1]; exact_match, regex, contains and numeric give 0 or 1; judge a model's grade.

The scoring itself lives in `opro_cli.scoring.rewards`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, TypeVar

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .meta_template import placeholder_problem
from .model import ModelConfig
from .strict import StrictModel

NORMALIZATIONS = ("strip", "lowercase", "collapse_whitespace", "strip_punctuation", "strip_quotes")


class ExactMatchReward(StrictModel):
    type: Literal["exact_match"]
    normalize: list[Literal[NORMALIZATIONS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["strip", "lowercase", "collapse_whitespace", "strip_punctuation"]
    )


class RegexReward(StrictModel):
    """Either the pattern must match (`{expected}` is replaced by the escaped expected value), or, when `group`
    is set, the group it captures is compared with the expected value after the normalisations."""

    type: Literal["regex"]
    pattern: str = Field(min_length=1)
    group: int | str | None = None
    ignore_case: bool = True
    normalize: list[Literal[NORMALIZATIONS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["strip", "lowercase", "collapse_whitespace", "strip_punctuation"]
    )

    @model_validator(mode="after")
    def _compiles(self) -> RegexReward:
        try:
            compiled = re.compile(self.pattern.replace("{expected}", "x"))
        except re.error as exc:
            raise ValueError(f"invalid regex {self.pattern!r}: {exc}") from None
        if self.group is not None:
            if isinstance(self.group, int) and self.group > compiled.groups:
                raise ValueError(f"pattern has {compiled.groups} group(s), group {self.group} asked")
            if isinstance(self.group, str) and self.group not in compiled.groupindex:
                raise ValueError(f"pattern has no group named {self.group!r}")
        return self


class ContainsReward(StrictModel):
    """1 when the normalised expected value appears in the normalised answer as whole words, else 0."""

    type: Literal["contains"]
    normalize: list[Literal[NORMALIZATIONS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["strip", "lowercase", "collapse_whitespace", "strip_punctuation"]
    )


class NumericReward(StrictModel):
    """1 when the answer, read as a number, is close to the expected one (as `math.isclose`: within `abs_tol`
    or within `rel_tol` of the larger magnitude), else 0. With neither tolerance, the numbers must be equal."""

    type: Literal["numeric"]
    abs_tol: float = Field(default=0.0, ge=0)
    rel_tol: float = Field(default=0.0, ge=0, lt=1)


class F1Reward(StrictModel):
    """Token-level F1 of answer and expected value after normalisation (0..1): words shared, counted with
    multiplicity, against the lengths of both; for short answers that are partly right."""

    type: Literal["f1"]
    normalize: list[Literal[NORMALIZATIONS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["strip", "lowercase", "collapse_whitespace", "strip_punctuation"]
    )


class PythonReward(StrictModel):
    """The user's own function, `path.py:name` (the path relative to the spec file): `name(answer, expected,
    example)` returns a bool or a number in [0, 1]. It is the user's code and runs with their rights."""

    type: Literal["python"]
    function: str = Field(min_length=3, description="path/to/file.py:function_name, relative to the spec")

    @field_validator("function")
    @classmethod
    def _file_and_name(cls, function: str) -> str:
        path, _, name = function.rpartition(":")
        if not path or not name.isidentifier():
            raise ValueError(f"expected 'file.py:function_name', got {function!r}")
        if not path.endswith(".py"):
            raise ValueError(f"{path!r} is not a Python file (.py)")
        return function


R = TypeVar("R")
JUDGE_PLACEHOLDERS = ("rubric", "input", "answer", "expected")


def judge_prompt_problem(template: str, reference: bool) -> str | None:
    """Why a judge prompt template cannot be used (bad braces, unknown placeholder, no {answer}), or None."""
    names: list[str] = []
    problem = placeholder_problem(template, JUDGE_PLACEHOLDERS, "answer", "the judge prompt", names)
    if problem is None and "expected" in names and not reference:
        return "{expected} shows the judge the expected value: set reference: true"
    return problem


class JudgeReward(StrictModel):
    """A model grades each answer against the rubric: pass/fail (1 or 0) or an integer scale such as `1-5`
    mapped onto [0, 1]. `rubric` and `prompt` are text, or (one line without placeholders) a file next to the spec,
    read when the spec loads. The verdict is asked as JSON, the reason before the score."""

    type: Literal["judge"]
    rubric: str = Field(min_length=1, description="what a good answer does, or a file holding it")
    model: ModelConfig | None = Field(default=None, description="the judge; default the spec's optimizer_model")
    scale: str = Field(default="pass_fail", description="pass_fail, or an integer scale such as 1-5")
    reference: bool = Field(default=False, description="show the judge the expected value")
    prompt: str | None = Field(default=None, description="the judge's prompt: {rubric} {input} {answer} {expected}")

    @field_validator("scale")
    @classmethod
    def _known_scale(cls, scale: str) -> str:
        found = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", scale)
        if scale != "pass_fail" and not (found and int(found.group(1)) < int(found.group(2))):
            raise ValueError(f"expected pass_fail or an integer scale such as 1-5, got {scale!r}")
        return scale if scale == "pass_fail" else f"{int(found.group(1))}-{int(found.group(2))}"  # type: ignore[union-attr]

    @field_validator("prompt")
    @classmethod
    def _usable_prompt(cls, prompt: str | None, info: ValidationInfo) -> str | None:
        problem = judge_prompt_problem(prompt, bool(info.data.get("reference"))) if prompt is not None else None
        if problem:
            raise ValueError(problem)
        return prompt

    @property
    def bounds(self) -> tuple[int, int] | None:
        """The scale's lowest and highest grade; None for pass/fail."""
        if self.scale == "pass_fail":
            return None
        low, high = self.scale.split("-")
        return int(low), int(high)


FieldReward = Annotated[
    ExactMatchReward | RegexReward | ContainsReward | NumericReward | F1Reward | PythonReward | JudgeReward,
    Field(discriminator="type"),
]


class FieldsReward(StrictModel):
    """Several answer fields (`prompt.output` a list): each scored by its own reward (default exact_match), the
    answer's reward their weighted mean (default weights 1). A missing or unreadable field scores 0 alone."""

    type: Literal["fields"]
    fields: dict[str, FieldReward] = Field(default_factory=dict)
    weights: dict[str, float] = Field(default_factory=dict)

    @field_validator("weights")
    @classmethod
    def _positive(cls, weights: dict[str, float]) -> dict[str, float]:
        for name, weight in weights.items():
            if weight < 0:
                raise ValueError(f"weight of {name!r} must be >= 0")
        return weights


Reward = Annotated[
    ExactMatchReward | RegexReward | ContainsReward | NumericReward | F1Reward | FieldsReward | PythonReward
    | JudgeReward,
    Field(discriminator="type"),
]
REWARD_TYPES = frozenset({"exact_match", "regex", "contains", "numeric", "f1", "fields", "python", "judge"})  # tags
# Rewards that can give a partial score: everything downstream treats rewards as numbers in [0, 1].
GRADED_TYPES = frozenset({"f1", "fields", "python", "judge"})


def python_functions(reward: object) -> list[PythonReward]:
    """Every `python` reward of a spec's reward (at the top, or for a field)."""
    return _rewards_of_type(reward, PythonReward)


def judge_rewards(reward: object) -> list[JudgeReward]:
    """Every `judge` reward of a spec's reward (at the top, or for a field)."""
    return _rewards_of_type(reward, JudgeReward)


def _rewards_of_type(reward: object, kind: type[R]) -> list[R]:
    if isinstance(reward, kind):
        return [reward]
    if isinstance(reward, FieldsReward):
        return [r for r in reward.fields.values() if isinstance(r, kind)]
    return []
