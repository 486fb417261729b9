"""Every LM call goes through here: litellm.acompletion with bounded concurrency, our own retries (transient
errors only, exponential backoff with jitter, Retry-After honoured), the response cache, usage and budgets.

litellm is imported on first use: it takes seconds to import and `opro --help` must stay fast.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from .cache import ResponseCache, cache_key
from .errors import BudgetExhausted, InputError, OproError, ProviderError
from .spec import ModelConfig


class ProviderUnavailable(ProviderError):
    """Transient failures outlasted every retry; the run stops with its work checkpointed."""


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    cached: bool = False


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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Budget:
    max_calls: int | None = None
    max_cost: float | None = None


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 7
    base_delay: float = 0.5
    max_delay: float = 30.0


@dataclass
class _InFlight:
    count: int = 0
    since: float = 0.0


class LM:
    """The LM call layer shared by training, validation and evaluation of one process."""

    def __init__(
        self,
        cache: ResponseCache | None = None,
        concurrency: int = 4,
        budget: Budget = Budget(),
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self.cache = cache
        self.budget = budget
        self.retry = retry
        self.usage = Usage()
        self.concurrency = concurrency
        self._semaphores: dict[int, asyncio.Semaphore] = {}
        self._inflight = _InFlight()
        self._jitter = random.Random()
        self._litellm = _import_litellm()

    async def complete(
        self,
        model: ModelConfig,
        messages: list[dict[str, str]],
        *,
        response_format: dict[str, Any] | None = None,
        seed: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        params = model.answer_params()
        if temperature is not None:
            params["temperature"] = temperature
        if seed is not None:
            params["seed"] = seed
        if response_format is not None:
            params["response_format"] = response_format
        key = cache_key(model.name, messages, params)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            self.usage.cached_calls += 1
            return Completion(hit["text"], hit["prompt_tokens"], hit["completion_tokens"], 0.0, cached=True)
        async with self._semaphore():
            completion = await self._call_with_retries(model, messages, params)
        if self.cache is not None:
            self.cache.put(key, {k: v for k, v in asdict(completion).items() if k in ("text", "prompt_tokens", "completion_tokens")})
        return completion

    async def _call_with_retries(self, model: ModelConfig, messages: list[dict[str, str]], params: dict[str, Any]) -> Completion:
        litellm = self._litellm
        for attempt in range(self.retry.attempts):
            self._charge()
            try:
                response = await self._timed(
                    litellm.acompletion(
                        model=model.name, messages=messages, **params, **_connection(model), num_retries=0, max_retries=0
                    )
                )
            except Exception as exc:  # noqa: BLE001 - classified right below, re-raised as ours
                if not _is_transient(litellm, exc):
                    raise _permanent(model, exc) from None
                if attempt + 1 == self.retry.attempts:
                    raise ProviderUnavailable(
                        f"{model.name}: still failing after {self.retry.attempts} attempts: {_describe(exc)}"
                    ) from None
                self.usage.retries += 1
                await asyncio.sleep(self._delay(attempt, exc))
                continue
            return self._account(response)
        raise AssertionError("unreachable")

    def _semaphore(self) -> asyncio.Semaphore:
        """One semaphore per event loop: an LM may serve several `asyncio.run` calls (eval, then baseline)."""
        loop = id(asyncio.get_running_loop())
        if loop not in self._semaphores:
            self._semaphores = {loop: asyncio.Semaphore(self.concurrency)}
        return self._semaphores[loop]

    def _charge(self) -> None:
        """Check the budget before a request is sent, so it is never exceeded, even with calls in flight."""
        if self.budget.max_calls is not None and self.usage.calls >= self.budget.max_calls:
            raise BudgetExhausted(f"call budget of {self.budget.max_calls} reached")
        if self.budget.max_cost is not None and self.usage.cost >= self.budget.max_cost:
            raise BudgetExhausted(f"cost budget of ${self.budget.max_cost:g} reached")
        self.usage.calls += 1

    async def _timed(self, call: Any) -> Any:
        if self._inflight.count == 0:
            self._inflight.since = time.perf_counter()
        self._inflight.count += 1
        try:
            return await call
        finally:
            self._inflight.count -= 1
            if self._inflight.count == 0:
                self.usage.lm_seconds += time.perf_counter() - self._inflight.since

    def _account(self, response: Any) -> Completion:
        text = response.choices[0].message.content or ""
        usage = getattr(response, "usage", None)
        completion = Completion(
            text,
            int(getattr(usage, "prompt_tokens", 0) or 0),
            int(getattr(usage, "completion_tokens", 0) or 0),
            _cost(self._litellm, response),
        )
        self.usage.prompt_tokens += completion.prompt_tokens
        self.usage.completion_tokens += completion.completion_tokens
        self.usage.cost += completion.cost
        return completion

    def _delay(self, attempt: int, exc: Exception) -> float:
        retry_after = _retry_after(exc)
        if retry_after is not None:
            return min(retry_after, self.retry.max_delay)
        ceiling = min(self.retry.max_delay, self.retry.base_delay * 2**attempt)
        return self._jitter.uniform(ceiling / 2, ceiling)


def _import_litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    logging.getLogger("LiteLLM").setLevel(logging.CRITICAL)
    from .local_provider import register

    register()
    return litellm


def _connection(model: ModelConfig) -> dict[str, Any]:
    """Where and how to reach the model; kept out of cache keys and artifacts."""
    out: dict[str, Any] = {"timeout": model.timeout}
    if model.api_base:
        out["api_base"] = model.api_base
    if model.api_version:
        out["api_version"] = model.api_version
    if model.api_key_env:
        key = os.environ.get(model.api_key_env)
        if not key:
            raise InputError(f"{model.name}: environment variable {model.api_key_env} is not set")
        out["api_key"] = key
    return out


def _is_transient(litellm: Any, exc: Exception) -> bool:
    permanent = (
        litellm.AuthenticationError,
        litellm.PermissionDeniedError,
        litellm.NotFoundError,
        litellm.ContextWindowExceededError,
        litellm.BadRequestError,
        litellm.UnsupportedParamsError,
        OproError,
    )
    transient = (
        litellm.RateLimitError,
        litellm.Timeout,
        litellm.APIConnectionError,
        litellm.InternalServerError,
        litellm.ServiceUnavailableError,
        litellm.APIError,
    )
    if isinstance(exc, permanent) or _wrapped_opro_error(exc) is not None:
        return False
    return isinstance(exc, transient) or isinstance(exc, (TimeoutError, ConnectionError))


def _permanent(model: ModelConfig, exc: Exception) -> OproError:
    ours = exc if isinstance(exc, OproError) else _wrapped_opro_error(exc)
    if ours is not None:
        return ours
    return ProviderError(f"{model.name}: {_describe(exc)}")


def _wrapped_opro_error(exc: Exception) -> OproError | None:
    """litellm wraps exceptions raised inside custom providers; find ours in the chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OproError):
            return seen
        seen = seen.__cause__ or seen.__context__
    original = getattr(exc, "original_exception", None)
    return original if isinstance(original, OproError) else None


def _retry_after(exc: Exception) -> float | None:
    headers = getattr(getattr(exc, "response", None), "headers", None) or getattr(exc, "litellm_response_headers", None)
    if not headers:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _cost(litellm: Any, response: Any) -> float:
    """Price of a call; local and unmapped models cost 0 rather than failing the run."""
    try:
        return float(litellm.completion_cost(completion_response=response) or 0.0)
    except Exception:  # noqa: BLE001 - litellm raises various errors for unmapped models
        return 0.0


_SECRET_NAMES = re.compile(r"KEY|TOKEN|SECRET|PASSWORD", re.IGNORECASE)


def redact(text: str) -> str:
    """Remove any secret from the environment that a provider message might echo back."""
    for name, value in os.environ.items():
        if len(value) >= 8 and _SECRET_NAMES.search(name) and value in text:
            text = text.replace(value, "***")
    return re.sub(r"\b(sk-[A-Za-z0-9_-]{3})[A-Za-z0-9_-]{8,}", r"\1***", text)


def _describe(exc: Exception) -> str:
    """One line: the exception class and the first line of its message, secrets removed."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    message = re.sub(r"^litellm\.\w+:\s*", "", message)
    return redact(f"{type(exc).__name__}: {message}"[:300])
