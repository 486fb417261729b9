"""How provider failures, as litellm raises them, become ours: worth a retry or final, how long the provider
asks us to wait, and one line a user can act on (secrets removed).

litellm maps HTTP statuses to exception classes, but not all of them: 402, 403 and 413 from OpenAI-compatible
servers arrive as a generic `APIError`, 502 as `BadGatewayError` outside the usual families. So the status
decides when there is one, the class otherwise.
"""

from __future__ import annotations

import email.utils
import os
import re
from datetime import datetime, timezone
from typing import Any

from ..errors import OproError, ProviderError
from ..spec import ModelConfig


class ProviderUnavailable(ProviderError):
    """Transient failures outlasted every retry; the run stops with its work checkpointed."""


# Statuses worth another try besides 5xx: timeout, conflict, too early, rate limit. Other 4xx are final
# (402 no credit, 403 forbidden, 413 too large, ... which litellm maps to a generic APIError).
_RETRY_STATUSES = frozenset({408, 409, 425, 429})
_QUOTA = re.compile(r"insufficient_quota|exceeded your current quota", re.IGNORECASE)


def is_transient(litellm: Any, exc: Exception) -> bool:
    """Rate limits, timeouts, dropped connections and server errors are retried; everything else is final."""
    if isinstance(exc, OproError) or _wrapped_opro_error(exc) is not None:
        return False
    # BadRequestError covers ContextWindowExceededError, UnsupportedParamsError, ContentPolicyViolationError.
    final = (litellm.AuthenticationError, litellm.PermissionDeniedError, litellm.NotFoundError, litellm.BadRequestError)
    if isinstance(exc, final) or _QUOTA.search(str(exc)):
        return False
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status < 600:
        return status in _RETRY_STATUSES or status >= 500
    transient = (
        litellm.RateLimitError,
        litellm.Timeout,
        litellm.APIConnectionError,
        litellm.InternalServerError,
        litellm.ServiceUnavailableError,
        TimeoutError,
        ConnectionError,
    )
    return isinstance(exc, transient)


def refusal(model: ModelConfig, exc: Exception) -> OproError:
    ours = exc if isinstance(exc, OproError) else _wrapped_opro_error(exc)
    if ours is not None:
        return ours
    return ProviderError(f"{model.name}: {describe(exc)}{_hint(model, exc)}")


def _hint(model: ModelConfig, exc: Exception) -> str:
    """What to check, for the refusals a user can fix."""
    status = getattr(exc, "status_code", None)
    if status == 401:
        where = f"${model.api_key_env}" if model.api_key_env else "the provider's key variable, e.g. $OPENAI_API_KEY"
        return f" (check the API key in {where})"
    if status == 404:
        return " (check the model name" + (" and api_base" if model.api_base else "") + ")"
    return ""


def _wrapped_opro_error(exc: Exception) -> OproError | None:
    """litellm wraps exceptions raised inside custom providers; find ours in the chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OproError):
            return seen
        seen = seen.__cause__ or seen.__context__
    original = getattr(exc, "original_exception", None)
    return original if isinstance(original, OproError) else None


def retry_after(exc: Exception) -> float | None:
    """Seconds the provider asks us to wait (`retry-after-ms`, or `Retry-After` as seconds or an HTTP date).

    litellm leaves `exc.response.headers` empty for OpenAI-compatible providers and puts the real ones in
    `exc.litellm_response_headers`; both are looked at."""
    for headers in (getattr(getattr(exc, "response", None), "headers", None), getattr(exc, "litellm_response_headers", None)):
        if not headers:
            continue
        lowered = {str(k).lower(): str(v) for k, v in headers.items()}
        try:
            if "retry-after-ms" in lowered:
                return max(0.0, float(lowered["retry-after-ms"]) / 1000)
            if "retry-after" in lowered:
                return max(0.0, float(lowered["retry-after"]))
        except ValueError:
            pass
        if "retry-after" in lowered:
            try:
                when = email.utils.parsedate_to_datetime(lowered["retry-after"])
            except (TypeError, ValueError):
                continue
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    return None


_SECRET_NAMES = re.compile(r"KEY|TOKEN|SECRET|PASSWORD", re.IGNORECASE)


def redact(text: str) -> str:
    """Remove any secret from the environment that a provider message might echo back."""
    for name, value in os.environ.items():
        if len(value) >= 8 and _SECRET_NAMES.search(name) and value in text:
            text = text.replace(value, "***")
    return re.sub(r"\b(sk-[A-Za-z0-9_-]{3})[A-Za-z0-9_-]{8,}", r"\1***", text)


# litellm prefixes messages with its class names: "litellm.AuthenticationError: AuthenticationError:
# OpenAIException - Incorrect API key provided." -> "Incorrect API key provided."
_PREFIXES = re.compile(r"^(?:litellm\.\w+:\s*)?(?:\w+Error:\s*)?(?:\w+(?:Error|Exception) - )?")


def describe(exc: Exception) -> str:
    """One line: the exception class, its HTTP status and the first line of its message, secrets removed."""
    text = str(exc).strip()
    message = _PREFIXES.sub("", text.splitlines()[0] if text else "").strip()
    status = getattr(exc, "status_code", None)
    synthetic = isinstance(exc, (TimeoutError, ConnectionError)) or type(exc).__name__ in ("Timeout", "APIConnectionError")
    http = f" (HTTP {status})" if isinstance(status, int) and not synthetic else ""
    return redact(f"{type(exc).__name__}{http}: {message}"[:300])
