"""The model a task runs on: a litellm model string, its call parameters and where it is served.

Keys come from the environment only: a spec names the variable (`api_key_env`), never the key.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from .strict import StrictModel

CONNECTION_FIELDS = ("api_base", "api_version", "api_key_env", "timeout", "deployments")


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
