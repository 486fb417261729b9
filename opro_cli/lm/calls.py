"""Every LM call goes through here: litellm.acompletion with bounded concurrency, our own retries (transient
errors only, exponential backoff with jitter, Retry-After honoured), the response cache, usage and budgets.

litellm is imported on first use: it takes seconds to import and `opro --help` must stay fast.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import BudgetExhausted, InputError, ProviderError
from ..spec import ModelConfig
from .cache import ResponseCache, cache_key
from .provider_errors import ProviderUnavailable, describe, is_transient, refusal, retry_after


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


@dataclass
class _InFlight:
    count: int = 0
    since: float = 0.0


class LM:
    """The LM call layer shared by training, validation and evaluation of one process.

    Budgets are checked before every request (retries included), so `max_calls` is never exceeded; `max_cost`
    is known only after a call returns, so calls already in flight can overshoot it by up to `concurrency - 1`.
    """

    def __init__(
        self,
        cache: ResponseCache | None = None,
        concurrency: int = 4,
        budget: Budget = Budget(),
        retry: RetryPolicy | None = None,
    ) -> None:
        self.cache = cache
        self.budget = budget
        self.retry = retry or RetryPolicy()
        self.usage = Usage()
        self.concurrency = concurrency
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = asyncio.Semaphore(concurrency)
        self._first_call = asyncio.Lock()
        self._answered: set[tuple[str, str | None]] = set()  # endpoints that answered once: calls may overlap
        self._refused: dict[tuple[str, str | None], ProviderError] = {}  # endpoints whose first call was refused
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
        request = {"model": model.name, "messages": messages, **params, **_connection(model)}
        completion = await self._send(model, request)
        if self.cache is not None:
            self.cache.put(key, {k: v for k, v in asdict(completion).items() if k in ("text", "prompt_tokens", "completion_tokens")})
        return completion

    async def _send(self, model: ModelConfig, request: dict[str, Any]) -> Completion:
        self._bind_to_loop()
        endpoint = (model.name, model.api_base)
        if endpoint not in self._answered:
            async with self._first_call:
                if endpoint not in self._answered:
                    return await self._first_request(model, request, endpoint)
        async with self._slots:
            return await self._call_with_retries(model, request)

    async def _first_request(self, model: ModelConfig, request: dict[str, Any], endpoint: tuple[str, str | None]) -> Completion:
        """Until an endpoint has answered once, its calls go one at a time: a bad key, model or URL then costs
        one request and one error, not one per concurrency slot; the calls queued behind a refusal get it too."""
        if endpoint in self._refused:
            refused = self._refused[endpoint]
            raise type(refused)(*refused.args)
        try:
            async with self._slots:
                completion = await self._call_with_retries(model, request)
        except ProviderError as exc:
            if not isinstance(exc, ProviderUnavailable):
                self._refused[endpoint] = exc
            raise
        self._answered.add(endpoint)
        return completion

    def _bind_to_loop(self) -> None:
        """Fresh primitives per event loop: one LM may serve several `asyncio.run` calls (eval, then baseline).
        The loop itself is kept (not its id), so a new loop can never be mistaken for a dead one."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._slots = asyncio.Semaphore(self.concurrency)
            self._first_call = asyncio.Lock()

    async def _call_with_retries(self, model: ModelConfig, request: dict[str, Any]) -> Completion:
        litellm = self._litellm
        for attempt in range(self.retry.attempts):
            self._charge()
            try:
                # Both retry knobs off: litellm's wrapper (num_retries) and the openai client's (max_retries, 2 by
                # default). Each attempt here is exactly one HTTP request.
                response = await self._timed(litellm.acompletion(**request, num_retries=0, max_retries=0))
            except Exception as exc:  # noqa: BLE001 - classified right below, re-raised as ours
                if not is_transient(litellm, exc):
                    raise refusal(model, exc) from None
                if attempt + 1 == self.retry.attempts:
                    raise ProviderUnavailable(
                        f"{model.name}: still failing after {self.retry.attempts} attempts: {describe(exc)}"
                    ) from None
                self.usage.retries += 1
                await asyncio.sleep(self._delay(attempt, exc))
                continue
            return self._account(response)
        raise AssertionError("unreachable")

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
        completion = Completion(
            _text(response),
            int(getattr(getattr(response, "usage", None), "prompt_tokens", 0) or 0),
            int(getattr(getattr(response, "usage", None), "completion_tokens", 0) or 0),
            _cost(self._litellm, response),
        )
        self.usage.prompt_tokens += completion.prompt_tokens
        self.usage.completion_tokens += completion.completion_tokens
        self.usage.cost += completion.cost
        return completion

    def _delay(self, attempt: int, exc: Exception) -> float:
        asked = retry_after(exc)
        if asked is not None:
            return min(asked, self.retry.max_delay)
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


def _text(response: Any) -> str:
    """The answer's text; a reply without choices or content (e.g. a content filter) is an empty answer,
    which scores as a failure of that example rather than stopping the run."""
    choices = getattr(response, "choices", None) or []
    content = getattr(getattr(choices[0], "message", None), "content", None) if choices else None
    return content if isinstance(content, str) else ""


def _cost(litellm: Any, response: Any) -> float:
    """Price of a call; local and unmapped models cost 0 rather than failing the run."""
    try:
        return float(litellm.completion_cost(completion_response=response) or 0.0)
    except Exception:  # noqa: BLE001 - litellm raises various errors for unmapped models
        return 0.0
