"""In-process litellm provider ``toy``: the toy model (``toy_model.py``) behind ``litellm.acompletion``.

Goes through litellm for real (its custom-provider mechanism); nothing of litellm is patched.

    import toy_provider
    toy_provider.register()                       # idempotent
    r = await litellm.acompletion(model="toy/sentiment", messages=[...], seed=3)
    r.choices[0].message.content, r.usage.prompt_tokens
    toy_provider.CALLS.total                      # calls handled since the last reset()

Models (litellm strips the ``toy/`` prefix before calling the handler):

- ``toy/sentiment``: answers with ``toy_model.answer(messages, seed=..., response_format=...)`` and usage from
  ``toy_model.usage``.
- ``toy/booking``: answers with ``toy_model.booking_answer(messages, seed=..., response_format=...)`` (booking
  requests: one number, or a JSON object of several fields) and usage from ``toy_model.usage``.
- ``toy/judge``: a deterministic judge, ``toy_model.judge_answer``: a JSON verdict (reason, then score) from the
  built-in judge prompt's rubric, reference and answer; rubrics saying GARBLE or OUTSIDE give the failure cases.
  ``toy/judge-breaks-N`` judges like it for N calls, then answers 401 (a judge that fails mid-run).
- ``toy/fail-auth``: raises ``CustomLLMError(status_code=401)``, which litellm's exception mapping turns into
  ``litellm.AuthenticationError`` (status 401, llm_provider "toy").
- ``toy/fail-rate-limit`` (429 -> ``litellm.RateLimitError``), ``toy/fail-bad-request`` (400 ->
  ``litellm.BadRequestError``), ``toy/fail-server`` (500 -> ``litellm.InternalServerError``),
  ``toy/fail-unavailable`` (503 -> ``litellm.ServiceUnavailableError``): fast in-process failures.
- any other ``toy/...`` model: 404 -> ``litellm.NotFoundError``.

How optional params arrive (litellm 1.106): litellm puts the OpenAI params of the call (``seed``,
``response_format``, ``temperature``, ``max_tokens``, ...) into ``optional_params`` for custom handlers; they are
NOT dropped for custom providers and the caller needs no ``drop_params`` / ``allowed_openai_params``. Streaming is
not implemented (``stream=True`` fails).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, deque
from typing import Any

import litellm
from litellm.llms.custom_llm import CustomLLM, CustomLLMError
from litellm.utils import custom_llm_setup

try:  # works whether tests/ is a package or a plain directory on sys.path
    from . import toy_model  # type: ignore[import-not-found]
except ImportError:
    import toy_model  # type: ignore[no-redef]

PROVIDER = "toy"

FAILURES: dict[str, tuple[int, str]] = {
    "fail-auth": (401, "Incorrect API key provided (toy provider)."),
    "fail-rate-limit": (429, "Rate limit reached (toy provider)."),
    "fail-bad-request": (400, "Bad request (toy provider)."),
    "fail-server": (500, "Internal server error (toy provider)."),
    "fail-unavailable": (503, "Service unavailable (toy provider)."),
}


class CallCounter:
    """Thread-safe count of handler calls (including failing ones), with the most recent requests."""

    def __init__(self, keep: int = 1000) -> None:
        self._lock = threading.Lock()
        self._total = 0
        self._by_model: Counter[str] = Counter()
        self._recent: deque[dict[str, Any]] = deque(maxlen=keep)

    def record(self, model: str, messages: list, optional_params: dict) -> None:
        with self._lock:
            self._total += 1
            self._by_model[model] += 1
            self._recent.append({"model": model, "messages": messages, "optional_params": dict(optional_params)})

    def reset(self) -> None:
        with self._lock:
            self._total = 0
            self._by_model.clear()
            self._recent.clear()

    @property
    def total(self) -> int:
        with self._lock:
            return self._total

    @property
    def by_model(self) -> dict[str, int]:
        """Calls per model name as the handler sees it (without the ``toy/`` prefix)."""
        with self._lock:
            return dict(self._by_model)

    @property
    def recent(self) -> list[dict[str, Any]]:
        """The last requests: dicts with ``model``, ``messages``, ``optional_params``."""
        with self._lock:
            return list(self._recent)

    @property
    def last(self) -> dict[str, Any] | None:
        with self._lock:
            return self._recent[-1] if self._recent else None

    def __int__(self) -> int:
        return self.total

    def __eq__(self, other: object) -> bool:
        if isinstance(other, int):
            return self.total == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CallCounter(total={self.total}, by_model={self.by_model})"


CALLS = CallCounter()


def reset() -> None:
    """Reset the call counter."""
    CALLS.reset()


def _respond(model: str, messages: list, optional_params: dict | None, model_response: Any) -> litellm.ModelResponse:
    params = dict(optional_params or {})
    CALLS.record(model, messages, params)
    if model in FAILURES:
        status, message = FAILURES[model]
        raise CustomLLMError(status_code=status, message=message)
    breaks = re.fullmatch(r"judge-breaks-(\d+)", model)
    if breaks:  # a judge that answers its first N calls, then refuses (a key revoked mid-run)
        if CALLS.by_model[model] > int(breaks.group(1)):
            raise CustomLLMError(status_code=401, message="Incorrect API key provided (toy provider).")
        model = "judge"
    answer = {"sentiment": toy_model.answer, "booking": toy_model.booking_answer,
              "judge": lambda messages, seed=None, response_format=None: toy_model.judge_answer(
                  messages, response_format=response_format)}.get(model)
    if answer is None:
        raise CustomLLMError(status_code=404, message=f"The model `toy/{model}` does not exist (toy provider).")

    text = answer(messages, seed=params.get("seed"), response_format=params.get("response_format"))
    prompt_tokens, completion_tokens = toy_model.usage(messages, text)

    response = model_response if isinstance(model_response, litellm.ModelResponse) else litellm.ModelResponse()
    response.choices[0].message.content = text  # type: ignore[union-attr]
    response.choices[0].finish_reason = "stop"
    response.model = f"{PROVIDER}/{model}"
    response.created = int(time.time())
    setattr(
        response,
        "usage",
        litellm.Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        ),
    )
    return response


class ToyLLM(CustomLLM):
    """The ``toy`` custom provider: sync and async completion, no streaming."""

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> litellm.ModelResponse:  # type: ignore[override]
        return _respond(model, messages, kwargs.get("optional_params"), kwargs.get("model_response"))

    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> litellm.ModelResponse:  # type: ignore[override]
        return _respond(model, messages, kwargs.get("optional_params"), kwargs.get("model_response"))


HANDLER = ToyLLM()


def register() -> ToyLLM:
    """Add ``{"provider": "toy", "custom_handler": HANDLER}`` to ``litellm.custom_provider_map`` (idempotent).

    Entries of other providers are kept; an older ``toy`` entry is replaced by ``HANDLER``.
    """
    entries = [e for e in litellm.custom_provider_map if e.get("provider") != PROVIDER]
    entries.append({"provider": PROVIDER, "custom_handler": HANDLER})
    litellm.custom_provider_map[:] = entries  # in place: others may hold a reference to the list
    custom_llm_setup()  # litellm also does this on every call; done here so lookups work at once
    return HANDLER


def unregister() -> None:
    """Remove the ``toy`` entry from ``litellm.custom_provider_map``."""
    litellm.custom_provider_map[:] = [e for e in litellm.custom_provider_map if e.get("provider") != PROVIDER]
