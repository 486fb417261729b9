"""The task spec: what to optimise, on which model, scored how. Loaded from YAML, validated by pydantic.

Unknown keys are errors everywhere (a typo must not silently fall back to a default), and every error
names the file, the line and the field.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import InputError
from .meta_prompt import template_problem

CONNECTION_FIELDS = ("api_base", "api_version", "api_key_env", "timeout", "deployments")
NORMALIZATIONS = ("strip", "lowercase", "collapse_whitespace", "strip_punctuation", "strip_quotes")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Deployment(StrictModel):
    """One endpoint serving the model, for litellm's Router: where it is, its key variable and its limits."""

    api_base: str = Field(min_length=1)
    name: str | None = Field(
        default=None, min_length=1, description="another litellm model string for the same model (default: the model's)"
    )
    api_key_env: str | None = Field(default=None, min_length=1, description="default: the model's api_key_env")
    rpm: int | None = Field(default=None, gt=0, description="requests per minute, never exceeded in any 60 s window")
    tpm: int | None = Field(default=None, gt=0, description="tokens per minute, counted by litellm's Router")
    max_parallel: int | None = Field(default=None, ge=1, description="ceiling of this endpoint's calls in flight")
    weight: float | None = Field(default=None, gt=0, description="share of the picks relative to the others")


class ModelConfig(StrictModel):
    """A litellm model and the call parameters that go with it. Keys come from the environment, never here."""

    name: str = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, gt=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: list[str] | None = None
    api_base: str | None = None
    api_version: str | None = None
    api_key_env: str | None = Field(
        default=None, description="name of the environment variable holding the key, if not litellm's default"
    )
    timeout: float = Field(default=60.0, gt=0)
    extra: dict[str, Any] = Field(default_factory=dict, description="more litellm params, passed as they are")
    deployments: list[Deployment] | None = Field(
        default=None, min_length=1, description="endpoints serving this same model, balanced by litellm's Router"
    )

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("extra")
    @classmethod
    def _no_secrets(cls, extra: dict[str, Any]) -> dict[str, Any]:
        for key in extra:
            if "key" in key.lower() or "token" in key.lower() or "secret" in key.lower():
                raise ValueError(f"'{key}' looks like a secret: put it in the environment (api_key_env)")
        return extra

    @model_validator(mode="after")
    def _endpoints_in_one_place(self) -> ModelConfig:
        if self.deployments and self.api_base:
            raise ValueError("give either api_base or deployments (each with its own api_base), not both")
        return self

    def answer_params(self) -> dict[str, Any]:
        """The params that change the answer: they go into the cache key (never api_base or keys)."""
        params = {"temperature": self.temperature, "max_tokens": self.max_tokens, "top_p": self.top_p, "stop": self.stop}
        params.update(self.extra)
        return {k: v for k, v in params.items() if v is not None}


class PromptSpec(StrictModel):
    instructions: str = Field(min_length=1, description="the seed instructions")
    input: str = Field(min_length=1, description="template over the dataset's input fields, e.g. 'Review: {review}'")
    output: str = Field(min_length=1, description="the dataset field holding the expected answer")

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

    @model_validator(mode="after")
    def _choices_need_label(self) -> AnswerSpec:
        if self.type == "label" and not self.choices:
            raise ValueError("type 'label' needs 'choices' (a list, or 'infer')")
        if self.choices and self.type != "label":
            raise ValueError("'choices' is only for type 'label'")
        if isinstance(self.choices, list) and len(set(self.choices)) < 2:
            raise ValueError("'choices' needs at least two distinct labels")
        if "answer" in self.fields:
            raise ValueError("'fields' must not contain 'answer' (it is always the last field)")
        return self


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


Reward = Annotated[ExactMatchReward | RegexReward, Field(discriminator="type")]


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
    meta_prompt: str | None = Field(
        default=None,
        description="the optimizer LM's prompt: a template with {scored_instructions}, {exemplars}, "
        "{task_description}, or (without placeholders) a file holding one, relative to the spec",
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

    def identity(self) -> dict[str, Any]:
        """The spec minus what cannot change a result (where and how fast the model is reached): a run
        resumed against another endpoint, timeout or concurrency is still the same run."""
        dumped = self.model_dump(mode="json")
        for name in ("model", "optimizer_model"):
            for key in CONNECTION_FIELDS:
                (dumped.get(name) or {}).pop(key, None)
        dumped["optimizer"].pop("concurrency")
        return dumped

    @property
    def proposer(self) -> ModelConfig:
        """The model that writes new instructions: `optimizer_model`, or the task model itself."""
        return self.optimizer_model or self.model


def load_spec(path: str | Path) -> TaskSpec:
    """Read and validate a spec file; any problem becomes one InputError naming file, line and field."""
    path = Path(path)
    return parse_spec(read_spec(path), path)


def read_spec(path: Path) -> Any:
    """The spec file's YAML, with `optimizer.meta_prompt` replaced by the text of the file it names (a value
    without any placeholder is a path, relative to the spec), so the run and its artifact hold the text."""
    raw = read_yaml(path)
    optimizer = raw.get("optimizer") if isinstance(raw, dict) else None
    named = optimizer.get("meta_prompt") if isinstance(optimizer, dict) else None
    if not isinstance(named, str) or "{" in named:
        return raw
    line = _key_lines(path).get(("optimizer", "meta_prompt"))
    where = f"{path}:{line}: optimizer.meta_prompt" if line else f"{path}: optimizer.meta_prompt"
    file = path.parent / Path(named.strip()).expanduser()
    text = _read_text(file, f"{where}: {file}", " (a value without placeholders is read as a file path)")
    problem = template_problem(text)
    if problem:
        raise InputError(f"{where}: {file}: {problem}")
    return {**raw, "optimizer": {**optimizer, "meta_prompt": text}}


def parse_spec(raw: Any, path: Path) -> TaskSpec:
    if not isinstance(raw, dict):
        raise InputError(f"{path}: the spec must be a YAML mapping of fields")
    problems = spec_problems(raw, path)
    if problems:
        raise InputError(problems[0])
    return TaskSpec.model_validate(raw)


def spec_problems(raw: Any, path: Path) -> list[str]:
    """Every validation problem of a raw spec, each as 'file:line: field: message'."""
    try:
        TaskSpec.model_validate(raw)
    except ValidationError as exc:
        lines = _key_lines(path)
        return [_describe(error, path, lines) for error in exc.errors()]
    return []


def _describe(error: Any, path: Path, lines: dict[tuple[str | int, ...], int]) -> str:
    loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part in _UNION_TAGS))
    field = ".".join(str(part) for part in loc) or "(top level)"
    line = _nearest_line(loc, lines)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field (check the spelling)"
    elif error["type"] == "missing":
        message = "required field is missing"
    where = f"{path}:{line}" if line else str(path)
    return f"{where}: {field}: {message}"


_UNION_TAGS = {"exact_match", "regex"}


def _nearest_line(loc: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]) -> int | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _read_text(path: Path, where: str, hint: str = "") -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{where}: file not found{hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: cannot read: {exc}") from None


def read_yaml(path: Path) -> Any:
    text = _read_text(path, str(path))
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{where}: invalid YAML: {problem}") from None


def _key_lines(path: Path) -> dict[tuple[str | int, ...], int]:
    """Map each key path of the YAML file to its 1-based line, to point errors at the right line."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    lines: dict[tuple[str | int, ...], int] = {}

    def walk(node: yaml.Node, prefix: tuple[str | int, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                here = (*prefix, key.value)
                lines[here] = key.start_mark.line + 1
                walk(value, here)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                here = (*prefix, index)
                lines[here] = item.start_mark.line + 1
                walk(item, here)

    if root is not None:
        walk(root, ())
    return lines
