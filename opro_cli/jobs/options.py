"""How LM calls are made, shared by every command that calls a model: cache, concurrency, budget, retries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..lm import LM, Budget, RetryPolicy
from ..lm.cache import ResponseCache, default_cache_dir


@dataclass
class CallOptions:
    """How LM calls are made: shared by every command that calls a model."""

    cache: bool = True
    cache_dir: Path | None = None
    concurrency: int | None = None
    max_calls: int | None = None
    max_cost: float | None = None
    retries: int = 7

    def make_lm(self, spec_concurrency: int) -> LM:
        cache = ResponseCache(self.cache_dir or default_cache_dir()) if self.cache else None
        return LM(
            cache=cache,
            concurrency=self.concurrency or spec_concurrency,
            budget=Budget(self.max_calls, self.max_cost),
            retry=RetryPolicy(attempts=self.retries + 1),
        )
