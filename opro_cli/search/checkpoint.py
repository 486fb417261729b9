"""Checkpoints: the optimiser state after every step, so a crash or kill -9 loses at most one step."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ValidationError

from ..errors import InputError
from ..files import write_atomic
from ..lm import Usage
from .state import OptimizerState

VERSION = 1


class Checkpoint(BaseModel):
    version: int = VERSION
    run_id: str  # hash of spec + data + seed: a checkpoint only resumes the run it came from
    state: OptimizerState
    usage: dict[str, float]
    started_at: str


def checkpoint_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + ".checkpoint.json")


def save(path: Path, run_id: str, state: OptimizerState, usage: Usage, started_at: str) -> None:
    checkpoint = Checkpoint(run_id=run_id, state=state, usage=usage.as_dict(), started_at=started_at)
    write_atomic(path, checkpoint.model_dump_json())


def load(path: Path, run_id: str) -> Checkpoint | None:
    """The checkpoint of this run, None if there is none; a foreign or broken one is an error, not ignored."""
    if not path.exists():
        return None
    try:
        checkpoint = Checkpoint.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError):
        raise InputError(f"{path}: unreadable checkpoint; delete it to start over") from None
    if checkpoint.run_id != run_id:
        raise InputError(f"{path}: checkpoint is from another spec, dataset or seed; delete it to start over")
    return checkpoint
