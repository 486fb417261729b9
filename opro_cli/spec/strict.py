"""The base of every spec model: unknown keys are errors (a typo must not silently fall back to a default)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
