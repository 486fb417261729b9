"""Every LM call goes through here: our own retries (transient errors only, exponential backoff with jitter,
Retry-After honoured), the response cache, usage and budgets, with calls in flight bounded by `-j` and, per
endpoint, by an adaptive window (`concurrency.py`); `routing.py` says where each call goes.

litellm is imported on first use: it takes seconds to import and `opro --help` must stay fast.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from typing import Any

from ..errors import BudgetExhausted, ProviderError
from ..spec import ModelConfig
from .accounting import Budget, Completion, InFlight, RetryPolicy, Usage, answer_text
from .cache import ResponseCache, call_key
from .provider_errors import ProviderUnavailable, describe, is_transient, refusal, retry_after
from .concurrency import RPM_WINDOW
from .routing import Endpoint, Pool, build_pool, connection


class _Failed(Exception):
    """An attempt that failed; `window_absorbed` when its endpoint's window already backs off for it."""

    def __init__(self, exc: Exception, window_absorbed: bool) -> None:
        super().__init__(str(exc))
        self.exc = exc
        self.window_absorbed = window_absorbed


class LM:
    """The LM call layer shared by training, validation and evaluation of one process.

    Budgets are checked before every request (retries included), so `max_calls` is never exceeded; `max_cost`
    is known only after a call returns, so calls already in flight can overshoot it by up to `concurrency - 1`.
    `concurrency` is a ceiling: each endpoint's window adapts below it to the 429s it answers.
    """

    def __init__(
        self,
        cache: ResponseCache | None = None,
        concurrency: int = 4,
        budget: Budget = Budget(),
        retry: RetryPolicy | None = None,
        adaptive: bool = True,
        rpm_window: float = RPM_WINDOW,
    ) -> None:
        self.cache = cache
        self.adaptive = adaptive  # False: every endpoint's window stays at `concurrency` (the old behaviour)
        self.rpm_window = rpm_window  # seconds a deployment's `rpm` holds over: a minute (tests shorten it)
        self.budget = budget
        self.retry = retry or RetryPolicy()
        self.usage = Usage()
        self.concurrency = concurrency
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = asyncio.Semaphore(concurrency)
        self._first_call = asyncio.Lock()
        self._answered: set[tuple[str, str | None]] = set()  # endpoints that answered once: calls may overlap
        self._refused: dict[tuple[str, str | None], ProviderError] = {}  # endpoints whose first call was refused
        self._inflight = InFlight()
        self._sending = 0  # calls past the cache, not yet returned: the cache is flushed when none is left
        self._jitter = random.Random()
        self._litellm = _import_litellm()
        self._pools: dict[str, Pool] = {}
        self._endpoints: dict[tuple[Any, ...], Endpoint] = {}
        self._room = asyncio.Condition()  # notified whenever an endpoint may have room again
        self._turns: dict[int, asyncio.Lock] = {}  # per pool: whose turn it is to wait for room
        self._waiting = 0  # callers waiting on `_room` (or about to): only then does a release notify it
        self._releases = 0  # requests come back so far: a caller that saw one during its pick looks again
        self.batch_answers: dict[str, dict[str, Any]] = {}  # answers a provider batch returned, by cache key
        # Each answer stored as it comes rather than half a second at a time: a job resumed after a kill (`opro
        # predict`) then asks nothing that was answered.
        self.write_through = False
        self.usage_by: dict[str, Usage] = {}  # calls made for a purpose (the judge's), also counted in `usage`

    async def complete(
        self,
        model: ModelConfig,
        messages: list[dict[str, str]],
        *,
        response_format: dict[str, Any] | None = None,
        seed: int | None = None,
        temperature: float | None = None,
        purpose: str | None = None,
    ) -> Completion:
        """One call's answer; `purpose` (e.g. "judge") also counts it apart, in `usage_by[purpose]`."""
        key, params = call_key(model, messages, response_format=response_format, seed=seed, temperature=temperature)
        part = self.usage_by.setdefault(purpose, Usage()) if purpose else None
        if self.batch_answers and (answer := self.batch_answers.get(key)) is not None:
            self.usage.batch_answers += 1  # its tokens and cost were counted when the batch's results came
            if part:
                part.batch_answers += 1
            return Completion(answer["text"], answer["prompt_tokens"], answer["completion_tokens"], 0.0, cached=True)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            self.usage.cached_calls += 1
            if part:
                part.cached_calls += 1
            return Completion(hit["text"], hit["prompt_tokens"], hit["completion_tokens"], 0.0, cached=True)
        pool = self._pool(model)
        request = {"model": model.name, "messages": messages, **params, **connection(model)}
        self._sending += 1
        try:
            completion = await self._send(pool, request)
            if part:
                part.calls += 1
                part.prompt_tokens += completion.prompt_tokens
                part.completion_tokens += completion.completion_tokens
                part.cost += completion.cost
            if self.cache is not None:
                store = self.cache.put if self.write_through else self.cache.put_soon
                store(key, {"text": completion.text, "prompt_tokens": completion.prompt_tokens,
                            "completion_tokens": completion.completion_tokens})
        finally:
            self._sending -= 1
            if not self._sending and self.cache is not None:
                self.cache.flush()  # idle (a run's end, a stop, between phases): every answer stored
        return completion

    def _pool(self, model: ModelConfig) -> Pool:
        """The endpoints of a model config, built on its first call (deployment keys are read then). The key is
        what tells pools apart; without deployments three strings say it, no JSON dump a call."""
        key: Any = (model.name, model.api_base, model.api_key_env) if not model.deployments else \
            model.model_dump_json(include={"name", "api_base", "api_key_env", "deployments"})
        if key not in self._pools:
            self._pools[key] = build_pool(
                self._litellm, model, self.concurrency, self._endpoints, self.adaptive, self.rpm_window
            )
        return self._pools[key]

    async def _send(self, pool: Pool, request: dict[str, Any]) -> Completion:
        self._bind_to_loop()
        endpoint = (pool.model.name, pool.model.api_base)
        if endpoint not in self._answered:
            async with self._first_call:
                if endpoint not in self._answered:
                    return await self._first_request(pool, request, endpoint)
        return await self._call_with_retries(pool, request)

    async def _first_request(self, pool: Pool, request: dict[str, Any], endpoint: tuple[str, str | None]) -> Completion:
        """Until an endpoint has answered once, its calls go one at a time: a bad key, model or URL then costs
        one request and one error, not one per concurrency slot; the calls queued behind a refusal get it too."""
        if endpoint in self._refused:
            refused = self._refused[endpoint]
            raise type(refused)(*refused.args)
        try:
            completion = await self._call_with_retries(pool, request)
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
            self._room = asyncio.Condition()
            self._turns = {}
            self._waiting = 0

    async def _call_with_retries(self, pool: Pool, request: dict[str, Any]) -> Completion:
        """One call and its retries, in one of the `-j` slots throughout (a backoff keeps its slot, so a failing
        provider gets no more requests from the calls waiting behind it)."""
        model = pool.model
        async with self._slots:
            for attempt in range(self.retry.attempts):
                try:
                    endpoint, response = await self._attempt(pool, request)
                except _Failed as failed:
                    exc = failed.exc
                    if not is_transient(self._litellm, exc):
                        raise refusal(model, exc) from None
                    if attempt + 1 == self.retry.attempts:
                        raise ProviderUnavailable(
                            f"{model.name}: still failing after {self.retry.attempts} attempts: {describe(exc)}"
                        ) from None
                    self.usage.retries += 1
                    if not failed.window_absorbed:
                        await asyncio.sleep(self._delay(attempt, exc))
                    continue
                return self._account(response, endpoint)
        raise AssertionError("unreachable")

    async def _attempt(self, pool: Pool, request: dict[str, Any]) -> tuple[Endpoint, Any]:
        """One request: room on an endpoint, the budget, then exactly one HTTP request; the endpoint and answer."""
        endpoint = await self._admit(pool, request["messages"])
        self._charge()  # no await between the room found and taken, so no other call takes it meanwhile
        sent_at = time.monotonic()
        ticket = endpoint.take(sent_at)
        try:
            self._inflight.lift()
            try:
                response = await pool.send(endpoint, request)
            finally:
                self._inflight.land(self.usage)
        except Exception as exc:  # noqa: BLE001 - classified by the caller
            rate_limited = getattr(exc, "status_code", None) == 429 or isinstance(exc, self._litellm.RateLimitError)
            window = endpoint.limit.current
            asked = retry_after(exc) if rate_limited else None
            await self._finish(endpoint, ticket, None, rate_limited, asked)
            # A 429 already shrank the window (or paused the endpoint): the retry waits for room, not a backoff,
            # unless the window was down to one call.
            absorbed = self.adaptive and rate_limited and (asked is not None or window > 1)
            raise _Failed(exc, window_absorbed=absorbed) from None
        except BaseException:
            await self._finish(endpoint, ticket)
            raise
        await self._finish(endpoint, ticket, time.monotonic() - sent_at)
        return endpoint, response

    async def _admit(self, pool: Pool, messages: list[dict[str, str]]) -> Endpoint:
        """Wait until the pool has an endpoint with room (window, pacing, rpm, Router cooldowns). A pool's callers
        take turns (a FIFO lock): a release wakes the first in each pool's queue, not every call waiting behind
        `-j` (at -j 32 against 8 in flight, waking them all cost ~10% of the client's CPU). Turns matter only
        while room is short: with nobody waiting for room and no Router to ask, room found at once is taken
        without the locks (their hand-off, one task switch a call, kept every call queueing behind the last)."""
        if not self._waiting and pool.router is None:
            now = time.monotonic()
            endpoint = pool.first_ready(now)
            if endpoint is not None and endpoint.has_room(now):
                return endpoint
        return await self._admit_in_turn(pool, messages)

    async def _admit_in_turn(self, pool: Pool, messages: list[dict[str, str]]) -> Endpoint:
        turn = self._turns.get(id(pool))
        if turn is None:
            turn = self._turns[id(pool)] = asyncio.Lock()
        async with turn, self._room:
            while True:
                released = self._releases
                endpoint = await pool.pick(messages)
                now = time.monotonic()
                if endpoint is not None and endpoint.has_room(now):
                    return endpoint
                if self._releases != released:  # a call came back during the pick: look again before waiting
                    continue
                self._waiting += 1  # from here until `wait` releases the lock, `_finish` waits for it to notify
                try:
                    await asyncio.wait_for(self._room.wait(), timeout=pool.next_change(now))
                except asyncio.TimeoutError:
                    pass
                finally:
                    self._waiting -= 1

    async def _finish(
        self,
        endpoint: Endpoint,
        ticket: int,
        round_trip: float | None = None,
        rate_limited: bool = False,
        asked: float | None = None,
    ) -> None:
        """A request came back: `round_trip` seconds if it was answered, a 429 or other failure otherwise."""
        endpoint.finished(ticket, round_trip, rate_limited, asked)
        self._releases += 1
        if self._waiting:  # nobody waits for room most of the time: no lock to take, nobody to wake
            async with self._room:
                self._room.notify_all()

    def concurrency_text(self) -> str:
        """Calls in flight and each endpoint's current window, for the live display."""
        endpoints = list(self._endpoints.values())
        if len(endpoints) == 1:
            window = endpoints[0].limit
            return f"{self._inflight.count} in flight, window {window.current} of {window.ceiling}"
        return "; ".join([f"{self._inflight.count} in flight"] + [
            f"{e.label} {e.limit.in_flight}/{e.limit.current}" for e in endpoints
        ])

    def _charge(self) -> None:
        """Check the budget before a request is sent, so it is never exceeded, even with calls in flight."""
        if self.budget.max_calls is not None and self.usage.calls >= self.budget.max_calls:
            raise BudgetExhausted(f"call budget of {self.budget.max_calls} reached")
        if self.budget.max_cost is not None and self.usage.cost >= self.budget.max_cost:
            raise BudgetExhausted(f"cost budget of ${self.budget.max_cost:g} reached")
        self.usage.calls += 1

    def _account(self, response: Any, endpoint: Endpoint) -> Completion:
        completion = Completion(
            answer_text(response),
            int(getattr(getattr(response, "usage", None), "prompt_tokens", 0) or 0),
            int(getattr(getattr(response, "usage", None), "completion_tokens", 0) or 0),
            self._cost(response, endpoint),
        )
        self.usage.prompt_tokens += completion.prompt_tokens
        self.usage.completion_tokens += completion.completion_tokens
        self.usage.cost += completion.cost
        return completion

    def _cost(self, response: Any, endpoint: Endpoint) -> float:
        """Price of a call; local and unmapped models cost 0 rather than failing the run. litellm takes a few ms
        to find a model unmapped, on every answer, so once one shows it has none the endpoint is marked free: its
        later calls tell litellm so (`routing.FREE`) and are not priced again."""
        if endpoint.free:
            return 0.0
        try:
            return float(self._litellm.completion_cost(completion_response=response) or 0.0)
        except Exception:  # noqa: BLE001 - litellm raises various errors for unmapped models
            endpoint.free = True
            return 0.0

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
