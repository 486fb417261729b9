"""What a call returns and what calls may cost: a completion, the run's usage, its budget and the retry policy."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import InputError


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    cached: bool = False


def answer_text(response: Any) -> str:
    """The answer's text; a reply without choices or content (e.g. a content filter) is an empty answer,
    which scores as a failure of that example rather than stopping the run."""
    choices = getattr(response, "choices", None) or []
    content = getattr(getattr(choices[0], "message", None), "content", None) if choices else None
    return content if isinstance(content, str) else ""


@dataclass
class Usage:
    """What the run consumed. `calls` counts requests sent to providers (retries included)."""

    calls: int = 0
    cached_calls: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    lm_seconds: float = 0.0  # wall time with at least one call in flight, to tell framework overhead apart
    batch_requests: int = 0  # requests sent in provider batches (follow-up batches included)
    batch_answers: int = 0  # answers scored from a provider batch (as `cached_calls` counts the cache's)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class InFlight:
    """Requests out now, and since when at least one has been: `Usage.lm_seconds` adds up those stretches."""

    count: int = 0
    since: float = 0.0

    def lift(self) -> None:
        if self.count == 0:
            self.since = time.perf_counter()
        self.count += 1

    def land(self, usage: Usage) -> None:
        self.count -= 1
        if self.count == 0:
            usage.lm_seconds += time.perf_counter() - self.since


@dataclass(frozen=True)
class Budget:
    max_calls: int | None = None
    max_cost: float | None = None


def _base_delay_from_env() -> float:
    """$OPRO_RETRY_BASE_DELAY (seconds) shortens the backoff, e.g. in tests against a local fault server."""
    raw = os.environ.get("OPRO_RETRY_BASE_DELAY")
    if raw is None:
        return 0.5
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 60:
        raise InputError(f"OPRO_RETRY_BASE_DELAY={raw!r}: expected seconds between 0 and 60")
    return value


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per call (first try included); backoff doubles from `base_delay` up to `max_delay`, with jitter.
    A Retry-After from the provider replaces the backoff (capped at `max_delay`)."""

    attempts: int = 7
    base_delay: float = field(default_factory=_base_delay_from_env)
    max_delay: float = 30.0
