"""The task spec: what to optimise, on which model, scored how. Loaded from YAML, validated by pydantic.

Unknown keys are errors everywhere (a typo must not silently fall back to a default), and every error
names the file, the line and the field.
"""

from __future__ import annotations

import string
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .meta_template import template_problem
from .model import CONNECTION_FIELDS, ModelConfig
from .rewards import ExactMatchReward, FieldsReward, PythonReward, Reward
from .strict import StrictModel


class PromptSpec(StrictModel):
    instructions: str = Field(min_length=1, description="the seed instructions")
    input: str = Field(min_length=1, description="template over the dataset's input fields, e.g. 'Review: {review}'")
    output: str | list[str] = Field(
        min_length=1, description="the dataset field holding the expected answer, or a list of several fields"
    )

    @field_validator("output")
    @classmethod
    def _distinct_names(cls, output: str | list[str]) -> str | list[str]:
        if isinstance(output, list):
            if len(set(output)) != len(output):
                raise ValueError("the output fields must be distinct")
            if any(not name for name in output):
                raise ValueError("an output field name is empty")
        return output

    @field_validator("input")
    @classmethod
    def _valid_template(cls, template: str) -> str:
        try:
            fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
        except ValueError as exc:
            raise ValueError(f"bad template: {exc}") from None
        if not fields:
            raise ValueError("the template names no input field, e.g. 'Review: {review}'")
        if any(not name.isidentifier() for name in fields):
            raise ValueError("template fields must be plain names like {review}")
        return template

    @property
    def input_fields(self) -> list[str]:
        return list(dict.fromkeys(name for _, name, _, _ in string.Formatter().parse(self.input) if name))

    @property
    def output_fields(self) -> list[str]:
        """The expected answer's fields: one, or several when `output` is a list."""
        return list(self.output) if isinstance(self.output, list) else [self.output]

    @property
    def several(self) -> bool:
        """Whether the answer is a JSON object of several fields (`output` given as a list)."""
        return isinstance(self.output, list)


def check_label_set(kind: str, choices: list[str] | str | None) -> None:
    """A label set goes with type label, and only there; listed, it has two distinct labels at least."""
    if kind == "label" and not choices:
        raise ValueError("type 'label' needs 'choices' (a list, or 'infer')")
    if choices and kind != "label":
        raise ValueError("'choices' is only for type 'label'")
    if isinstance(choices, list) and len(set(choices)) < 2:
        raise ValueError("'choices' needs at least two distinct labels")


class OutputType(StrictModel):
    """The type of one answer field, for several fields (`answer.outputs`); fields not listed are text."""

    type: Literal["text", "label", "integer", "number"] = "text"
    choices: list[str] | Literal["infer"] | None = Field(
        default=None, description="the field's closed label set, or 'infer' from the training data"
    )

    @model_validator(mode="after")
    def _choices_need_label(self) -> OutputType:
        check_label_set(self.type, self.choices)
        return self


class AnswerSpec(StrictModel):
    """What an answer is, so the call can ask for it in that shape and the parser can read it back."""

    type: Literal["text", "label", "integer", "number"] = "text"
    choices: list[str] | Literal["infer"] | None = Field(
        default=None, description="the closed label set, or 'infer' to take the training data's distinct values"
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="extra JSON fields asked for before the answer, name -> description (e.g. reasoning)",
    )
    structured: Literal["auto", "always", "never"] = Field(
        default="auto", description="ask the provider for JSON constrained by a schema (auto: where supported)"
    )
    outputs: dict[str, OutputType] | None = Field(
        default=None, description="with several output fields: each field's type (text when not listed)"
    )

    @model_validator(mode="after")
    def _choices_need_label(self) -> AnswerSpec:
        check_label_set(self.type, self.choices)
        if "answer" in self.fields:
            raise ValueError("'fields' must not contain 'answer' (it is always the last field)")
        return self


DEFAULT_FAILURES = 4
NEW_OPTIONAL = (("answer", "outputs"), ("optimizer", "failures"))  # keys added after specs were first written: left out of the identity when unset


class OptimizerSpec(StrictModel):
    k: int | Literal["auto"] = Field(
        default="auto",
        description="few-shot examples in the prompt; auto: one per answer of a label set (at least 3), two tried too",
    )
    k_best: int = Field(default=10, ge=1, description="best predictions kept to draw shots from")
    budget: int | Literal["light", "medium", "heavy"] = Field(
        default="medium", description="LM calls the search may make, or a preset scaled to the validation pool"
    )
    epochs: int | None = Field(default=None, ge=1, description="passes over the validation pool at most")
    batch_size: int = Field(default=8, ge=1, description="examples each new candidate is screened on")
    shot_sets: int = Field(default=4, ge=0, description="new few-shot sets tried per step")
    candidates: int = Field(default=4, ge=0, description="new instructions proposed per step")
    validation_size: float | Literal["all"] = Field(
        default="all", description="the validation pool: all training examples, a share (< 1) or a count (>= 1)"
    )
    max_validation: int = Field(default=100, ge=1, description="cap on the validation pool")
    seed: int = 0
    concurrency: int = Field(default=4, ge=1)
    proposal_temperature: float = Field(default=1.0, ge=0, le=2)
    max_instruction_chars: int = Field(default=500, ge=10)
    meta_examples: int = Field(default=3, ge=0, description="(input, expected) pairs shown to the optimizer LM")
    proposal_patience: int = Field(
        default=2,
        ge=0,
        description="stop asking for instructions after this many steps without one usable proposal (0: never)",
    )
    failures: int | None = Field(
        default=None, ge=0,
        description="examples the incumbent lost on its minibatch shown to the optimizer LM with their reasons "
        "(default 4; 0: none)",
    )
    meta_prompt: str | None = Field(
        default=None,
        description="the optimizer LM's prompt: a template with {scored_instructions}, {exemplars}, "
        "{task_description}, {scoring}, {failures}, or (without placeholders) a file holding one, relative to the spec",
    )

    @field_validator("meta_prompt")
    @classmethod
    def _known_placeholders(cls, template: str | None) -> str | None:
        problem = template_problem(template) if template is not None else None
        if problem:
            raise ValueError(problem)
        return template

    @field_validator("k", mode="before")
    @classmethod
    def _shots_or_auto(cls, k: object) -> object:
        if k == "auto" or (isinstance(k, int) and not isinstance(k, bool) and k >= 0):
            return k
        raise ValueError("must be a number of shots >= 0, or auto")

    @field_validator("budget")
    @classmethod
    def _budget_pays_for_something(cls, budget: int | str) -> int | str:
        if isinstance(budget, int) and budget < 1:
            raise ValueError("must be a number of LM calls >= 1, or light, medium or heavy")
        return budget

    @field_validator("validation_size")
    @classmethod
    def _positive_size(cls, size: float | str) -> float | str:
        if not isinstance(size, str) and size <= 0:
            raise ValueError("must be 'all', a share (< 1) or a number of examples (>= 1)")
        return size


class TaskSpec(StrictModel):
    name: str = Field(min_length=1)
    description: str = ""
    model: ModelConfig
    optimizer_model: ModelConfig | None = None
    prompt: PromptSpec
    answer: AnswerSpec = Field(default_factory=AnswerSpec)
    reward: Reward = Field(default_factory=lambda: ExactMatchReward(type="exact_match"))
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)

    @model_validator(mode="before")
    @classmethod
    def _fields_reward_for_several_fields(cls, raw: Any) -> Any:
        """With several output fields and no reward given, each field is scored by exact match."""
        prompt = raw.get("prompt") if isinstance(raw, dict) else None
        if isinstance(prompt, dict) and isinstance(prompt.get("output"), list) and "reward" not in raw:
            return {**raw, "reward": {"type": "fields"}}
        return raw

    def consistency_problems(self) -> list[tuple[tuple[str, ...], str]]:
        """What the sections say against each other (the answer, its fields and the reward), each with the key
        it is about: `spec_problems` puts the file's line on it. Empty for a consistent spec."""
        names, answer, reward = self.prompt.output_fields, self.answer, self.reward
        problems: list[tuple[tuple[str, ...], str]] = []
        if self.prompt.several:
            if answer.type != "text" or answer.choices:
                problems.append((("answer", "type"), "with several output fields, type each one in answer.outputs"))
            for name in set(names) & set(answer.fields):
                problems.append((("answer", "fields", name), "an output field cannot also be an extra field"))
            for name in answer.outputs or {}:
                if name not in names:
                    problems.append((("answer", "outputs", name), f"{name!r} is not one of prompt.output: {names}"))
            if not isinstance(reward, (FieldsReward, PythonReward)):
                problems.append((("reward", "type"), f"with several output fields the reward is 'fields' (one reward "
                                                     f"per field) or 'python', not {reward.type!r}"))
        elif answer.outputs:
            problems.append((("answer", "outputs"), "for several output fields only (prompt.output as a list)"))
        if isinstance(reward, FieldsReward):
            if not self.prompt.several:
                problems.append((("reward", "type"), "'fields' needs several output fields (prompt.output as a list)"))
            for section in ("fields", "weights"):
                for name in getattr(reward, section):
                    if name not in names:
                        problems.append((("reward", section, name), f"{name!r} is not one of prompt.output: {names}"))
            if self.prompt.several and not any(reward.weights.get(name, 1.0) for name in names):
                problems.append((("reward", "weights"), "every field has weight 0: at least one must count"))
        return problems

    def identity(self) -> dict[str, Any]:
        """The spec minus what cannot change a result (where and how fast the model is reached): a run
        resumed against another endpoint, timeout or concurrency is still the same run."""
        dumped = self.model_dump(mode="json")
        for name in ("model", "optimizer_model"):
            for key in CONNECTION_FIELDS:
                (dumped.get(name) or {}).pop(key, None)
        dumped["optimizer"].pop("concurrency")
        for section, key in NEW_OPTIONAL:
            if dumped[section].get(key) is None:
                dumped[section].pop(key, None)
        return dumped

    @property
    def failures_shown(self) -> int:
        """How many of the incumbent's failures the optimizer model sees (`optimizer.failures`, default 4)."""
        return DEFAULT_FAILURES if self.optimizer.failures is None else self.optimizer.failures

    @property
    def proposer(self) -> ModelConfig:
        """The model that writes new instructions: `optimizer_model`, or the task model itself."""
        return self.optimizer_model or self.model
