"""The artifact: the best prompt and everything needed to trust and reuse it, as versioned JSON.

Everything outside `run` is a pure function of spec, data and seed, so two runs of the same job can be
diffed; `run` holds what legitimately differs (timestamps, usage, why it stopped).
"""

from __future__ import annotations

import json
import platform
import re
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_serializer

from . import __version__
from .errors import InputError
from .files import write_atomic
from .scoring.answers import AnswerFormat, OutputField
from .scoring.prediction import Prediction
from .scoring.prompt import Prompt, Shot
from .search.state import StepRecord
from .spec import TaskSpec

SCHEMA_VERSION = 1


class OutputRecord(BaseModel):
    """One answer field of several: its name, type and label set."""

    name: str
    type: str = "text"
    choices: list[str] = Field(default_factory=list)


class FormatRecord(BaseModel):
    """How answers are asked for. `structured` is the best prompt's mode; `seed_structured` the mode the seed
    prompt was scored in (they differ when the optimiser found that the other mode scores higher)."""

    type: str
    choices: list[str]
    fields: dict[str, str]
    structured: bool
    seed_structured: bool | None = None
    outputs: list[OutputRecord] | None = None  # several answer fields, each with its type (absent: one answer)

    @model_serializer(mode="wrap")
    def _without_unset_outputs(self, handler: Any) -> dict[str, Any]:
        """Artifacts of one answer field stay as they were written before several fields existed."""
        dumped = handler(self)
        if dumped.get("outputs") is None:
            dumped.pop("outputs", None)
        return dumped


class SeedComparison(BaseModel):
    """The best prompt against the seed prompt on the examples both were scored on (paired)."""

    examples: int
    best_only: int  # examples only the best prompt got right
    seed_only: int  # examples only the seed prompt got right
    p_value: float  # one-sided sign test: the chance of such a lead if the best were no better


class Closest(BaseModel):
    """When the seed prompt is returned: the candidate that came closest to beating it, so a user can tell
    whether more budget (it never reached the whole pool) or more data (it did, and the test was not sure) would
    help."""

    score: float  # its mean reward on the examples it was scored on
    examples: int  # how many
    whole_pool: bool  # all the pool but its own shots
    better: int  # examples where it scored higher than the seed prompt
    worse: int  # and lower
    p_value: float  # the one-sided sign test of that lead


class Scores(BaseModel):
    """Validation scores; the best prompt's is over the whole pool (all but its own shots), with its 95 %
    interval, and `best_vs_seed` counts the examples where one of the two prompts scored higher (for 0/1 rewards:
    where exactly one was right)."""

    seed_validation: float
    best_validation: float
    seed_examples: int | None = None
    best_examples: int | None = None
    best_ci95: tuple[float, float] | None = None
    best_vs_seed: SeedComparison | None = None
    screened: int | None = None  # candidates scored on a minibatch
    promoted: int | None = None  # of which scored on more examples
    budget: int | None = None  # LM calls the search planned
    spent: int | None = None  # LM calls the search made (cached answers included)
    closest: Closest | None = None  # the seed prompt returned: the candidate nearest to beating it


class DataRecord(BaseModel):
    train_sha256: str
    validation_sha256: str | None
    train_examples: int
    validation_examples: int


class RunRecord(BaseModel):
    started_at: str
    finished_at: str
    stopped: str
    message: str = ""
    usage: dict[str, int | float]
    judge_usage: dict[str, int | float] | None = None  # the judge's calls (also counted in `usage`), if judged


class Artifact(BaseModel):
    schema_version: Literal[1] = SCHEMA_VERSION
    task: str
    instructions: str
    shots: list[Shot]
    answer_format: FormatRecord
    scores: Scores
    history: list[StepRecord]
    spec: dict[str, Any]
    data: DataRecord
    seed: int
    run_id: str
    models: dict[str, str]
    versions: dict[str, str]
    run: RunRecord
    # The best prompt's lowest-scored answers with their reasons (`optimizer.failures` of them; None in artifacts
    # written before issue 35), which `opro report` shows.
    failures: list[Prediction] | None = None

    @property
    def prompt(self) -> Prompt:
        return Prompt(instructions=self.instructions, shots=tuple(self.shots))

    def task_spec(self) -> TaskSpec:
        return TaskSpec.model_validate(self.spec)

    def format(self, seed: bool = False) -> AnswerFormat:
        """The answer format of the best prompt, or with `seed` the one the seed prompt was scored with."""
        record = self.answer_format
        structured = record.seed_structured if seed and record.seed_structured is not None else record.structured
        outputs = tuple(OutputField(o.name, o.type, tuple(o.choices)) for o in record.outputs or [])
        return AnswerFormat(record.type, tuple(record.choices), dict(record.fields), structured, outputs)

    def reproducible_part(self) -> dict[str, Any]:
        """What must be identical between two runs of the same spec, data and seed."""
        return self.model_dump(mode="json", exclude={"run"})


def public_spec(spec: TaskSpec) -> dict[str, Any]:
    """The spec as stored in artifacts: no credentials (keys never enter a spec; URLs lose any user:password)."""
    dumped = spec.model_dump(mode="json", exclude_none=True)
    for name in ("model", "optimizer_model"):
        model = dumped.get(name) or {}
        for endpoint in (model, *model.get("deployments", [])):
            if "api_base" in endpoint:
                endpoint["api_base"] = re.sub(r"//[^/@]*@", "//", endpoint["api_base"])
    return dumped


def versions() -> dict[str, str]:
    found = {"opro-cli": __version__, "python": platform.python_version()}
    for package in ("litellm", "xllamacpp"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found


def save_artifact(path: str | Path, artifact: Artifact) -> None:
    write_atomic(path, artifact.model_dump_json(indent=2) + "\n")


def load_artifact(path: str | Path) -> Artifact:
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON artifact: {exc}") from None
    if isinstance(raw, dict) and raw.get("schema_version") not in (None, SCHEMA_VERSION):
        raise InputError(f"{path}: artifact schema {raw.get('schema_version')} is not supported (this is {SCHEMA_VERSION})")
    try:
        return Artifact.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "(top level)"
        raise InputError(f"{path}: not an opro artifact: {field}: {error['msg']}") from None
