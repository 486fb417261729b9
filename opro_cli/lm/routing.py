"""Where a call goes: one endpoint (a plain model config), or one of a model's `deployments`, picked by
litellm's Router (its model_list, weights, tpm accounting and cooldowns).

The Router only picks and sends; it never retries or falls back (num_retries=0, max_fallbacks=0), so `LM`
stays the one place for retries, budgets and the cache. Each endpoint keeps its own adaptive window and rpm
window (`concurrency.py`): a pick the Router makes for an endpoint that has no room goes to a healthy one
that has, and when none has, the call waits.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..spec import Deployment, ModelConfig
from .concurrency import RPM_WINDOW, AdaptiveLimit, RateWindow
from .provider_errors import describe

NO_RETRIES = {"num_retries": 0, "max_retries": 0}  # litellm's wrapper and the openai client's own retries, off
# litellm's documented custom pricing, all zero, for a model it has no price for (free, as `LM` counts it anyway):
# said outright, litellm skips its search of the price map and its zero-cost diagnosis on every answer, about
# 1.5 ms of CPU a call through the Router (a third of the call on loopback).
FREE = {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0}
ROUTER_POLL = 0.25  # seconds between picks while the Router has every deployment cooling down
_ids = itertools.count()


@dataclass
class Endpoint:
    """One place a request can go, with its windows; `id` names it to the Router, `label` to people."""

    id: str
    label: str
    limit: AdaptiveLimit
    rate: RateWindow | None = None
    free: bool = False  # litellm has no price for what answers here: calls say so (FREE) and cost 0

    def has_room(self, now: float) -> bool:
        return self.limit.has_room(now) and (self.rate is None or self.rate.has_room(now))

    def has_slot(self, now: float) -> bool:
        """Room now but for pacing, which only delays a call: the Router's pick should not go elsewhere for it."""
        return self.limit.has_slot(now) and (self.rate is None or self.rate.has_room(now))

    def take(self, now: float) -> int:
        if self.rate is not None:
            self.rate.take()
        return self.limit.take(now)

    def finished(
        self, ticket: int, round_trip: float | None, rate_limited: bool = False, retry_after: float | None = None
    ) -> None:
        if self.rate is not None:
            self.rate.finished(time.monotonic())
        self.limit.finished(ticket, rate_limited, retry_after, round_trip)

    def next_room(self, now: float) -> float:
        """When time alone (a pause, pacing, the rpm window) gives room again; `now` when only a release can."""
        later = self.limit.next_room(now)
        return max(later, self.rate.next_room(now)) if self.rate is not None else later


class Pool:
    """The endpoints one model config can use. Without deployments, one endpoint reached through
    `litellm.acompletion` (no Router in the way); with them, a Router over their model_list."""

    def __init__(self, litellm: Any, model: ModelConfig, endpoints: list[Endpoint], router: Any | None = None) -> None:
        self.litellm = litellm
        self.model = model
        self.endpoints = endpoints
        self.router = router
        self.router_busy_until = 0.0  # the Router said no deployment is available (all cooling down) until then

    async def pick(self, messages: list[dict[str, str]]) -> Endpoint | None:
        """An endpoint with room, as the Router picks it (it may still have to wait for pacing); None if none has."""
        now = time.monotonic()
        if self.router is None:
            return self.first_ready(now)
        ready = {e.id: e for e in self.endpoints if e.has_slot(now)}
        if not ready or now < self.router_busy_until:
            return None
        chosen = await self._select("pick", messages)
        if chosen is None:
            return None
        picked = ready.get(_deployment_id(chosen))
        if picked is not None:
            return picked
        healthy = await self._select("healthy", messages) or []
        candidates = [ready[i] for i in map(_deployment_id, healthy) if i in ready]
        return max(candidates, key=lambda e: e.limit.current - e.limit.in_flight, default=None)

    def first_ready(self, now: float) -> Endpoint | None:
        """Without a Router: the first endpoint with a slot (its pacing aside), at once."""
        if now < self.router_busy_until:
            return None
        return next((e for e in self.endpoints if e.has_slot(now)), None)

    async def _select(self, kind: str, messages: list[dict[str, str]]) -> Any:
        try:
            return await self.router.select(self.model.name, {}, kind=kind, messages=messages)
        except Exception as exc:  # noqa: BLE001 - "no deployment available" comes as several classes, all 429
            if getattr(exc, "status_code", None) == 429 or isinstance(exc, self.litellm.RateLimitError):
                self.router_busy_until = time.monotonic() + ROUTER_POLL
                return None
            raise

    def next_change(self, now: float) -> float | None:
        """Seconds until waiting callers should look again without a release (None: wait for one)."""
        later = [e.next_room(now) for e in self.endpoints]
        later.append(self.router_busy_until)
        pending = [t - now for t in later if t > now]
        return min(pending) if pending else None

    async def send(self, endpoint: Endpoint, request: dict[str, Any]) -> Any:
        pricing = FREE if endpoint.free else {}
        if self.router is None:
            return await self.litellm.acompletion(**request, **NO_RETRIES, **pricing)
        return await self.router.acompletion(**{**request, "model": endpoint.id}, **NO_RETRIES, **pricing)


def build_pool(
    litellm: Any,
    model: ModelConfig,
    ceiling: int,
    known: dict[tuple[Any, ...], Endpoint],
    adaptive: bool = True,
    rpm_window: float = RPM_WINDOW,
) -> Pool:
    """The pool for a model config; endpoints already in `known` (same model, place and key) are shared, so a
    target and an optimizer model on one server share its windows. Keys are read here, before any call.
    `rpm_window` is the seconds a deployment's `rpm` holds over (a minute; tests shorten it)."""
    if not model.deployments:
        key = ("plain", model.name, model.api_base)
        window = AdaptiveLimit(ceiling, fixed=not adaptive)
        endpoint = known.get(key) or Endpoint(f"opro-{next(_ids)}", public_url(model.api_base or model.name), window)
        known[key] = endpoint
        return Pool(litellm, model, [endpoint])
    endpoints, model_list = [], []
    for deployment in model.deployments:
        key_env = deployment.api_key_env or model.api_key_env
        key = ("deployment", deployment.name or model.name, deployment.api_base, key_env)
        endpoint = known.get(key) or _deployment_endpoint(deployment, ceiling, adaptive, rpm_window)
        # The Router prices an unmapped model at 0 without failing, so whether it is priced is asked up front.
        endpoint.free = not litellm_charges(litellm, deployment.name or model.name)
        known[key] = endpoint
        endpoints.append(endpoint)
        model_list.append(_model_list_entry(model, deployment, endpoint, key_env))
    # Calls arrive here one by one (our retries, our concurrency): the Router must neither retry nor fall back.
    try:
        router = litellm.Router(
            model_list=model_list,
            routing_strategy="usage-based-routing-v2" if any(d.tpm for d in model.deployments) else "simple-shuffle",
            num_retries=0,
            max_fallbacks=0,
            retry_after=0,
            allowed_fails=2,  # failures a minute before a deployment cools down
            cooldown_time=10,
            timeout=model.timeout,
        )
    except Exception as exc:  # noqa: BLE001 - the Router validates its model_list; its message may quote the keys
        raise InputError(f"{model.name}: deployments: litellm's Router refused them: {describe(exc)}") from None
    return Pool(litellm, model, endpoints, router)


def _deployment_endpoint(deployment: Deployment, ceiling: int, adaptive: bool, rpm_window: float) -> Endpoint:
    own = min(ceiling, deployment.max_parallel) if deployment.max_parallel else ceiling
    rate = RateWindow(deployment.rpm, rpm_window) if deployment.rpm else None
    return Endpoint(f"opro-{next(_ids)}", public_url(deployment.api_base), AdaptiveLimit(own, fixed=not adaptive), rate)


def _model_list_entry(model: ModelConfig, deployment: Deployment, endpoint: Endpoint, key_env: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"model": deployment.name or model.name, "api_base": deployment.api_base,
                              "timeout": model.timeout, "max_retries": 0}
    if model.api_version:
        params["api_version"] = model.api_version
    if deployment.weight is not None:
        params["weight"] = deployment.weight
    if key_env:
        params["api_key"] = key_from_env(model.name, key_env)
    info = {"id": endpoint.id, **(FREE if endpoint.free else {})}  # zero prices here spare the zero-cost diagnosis
    entry: dict[str, Any] = {"model_name": model.name, "litellm_params": params, "model_info": info}
    # rpm/tpm beside litellm_params, not in them: there the Router would also derive a max_parallel_requests
    # from them and answer 429 itself above it; our windows already keep each deployment within its limits.
    for name in ("rpm", "tpm"):
        if getattr(deployment, name) is not None:
            entry[name] = getattr(deployment, name)
    return entry


def litellm_charges(litellm: Any, model_name: str) -> bool:
    """Whether litellm has a price above zero for a model string: none for local and self-hosted models (or
    zero, once a Router marked them free: it registers its deployments' prices)."""
    try:
        info = litellm.get_model_info(model_name)
    except Exception:  # noqa: BLE001 - litellm raises several classes for an unmapped model
        return False
    return any(isinstance(v, (int, float)) and v > 0 for k, v in info.items() if "cost" in k)


def connection(model: ModelConfig) -> dict[str, Any]:
    """Where and how to reach the model; kept out of cache keys and artifacts."""
    out: dict[str, Any] = {"timeout": model.timeout}
    if model.api_base:
        out["api_base"] = model.api_base
    if model.api_version:
        out["api_version"] = model.api_version
    if model.api_key_env and not model.deployments:
        out["api_key"] = key_from_env(model.name, model.api_key_env)
    if model.deployments:  # each deployment's place, key and timeout are in the Router's model_list
        out.clear()
    return out


def key_from_env(model_name: str, variable: str) -> str:
    key = os.environ.get(variable)
    if not key:
        raise InputError(f"{model_name}: environment variable {variable} is not set")
    return key


def public_url(url: str) -> str:
    """A URL fit for a display or a log: any user:password removed."""
    return re.sub(r"//[^/@]*@", "//", url)


def _deployment_id(deployment: Any) -> str:
    return str((deployment.get("model_info") or {}).get("id"))
