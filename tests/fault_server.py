"""A fault-injecting OpenAI-compatible chat server on loopback, answering with the toy model (stdlib only).

litellm reaches it for real through ``api_base``; nothing of litellm or openai is patched.

    with FaultServer(fault_rate=0.3, seed=1) as server:
        await litellm.acompletion(model="openai/toy", api_base=server.url, api_key="sk-test",
                                  messages=[...], num_retries=0, max_retries=0)
        server.requests, server.served, server.faults

Endpoints: ``POST /v1/chat/completions`` and ``POST /chat/completions`` (OpenAI-shaped JSON with usage; content from
``toy_model.answer(messages, seed=body["seed"], response_format=body["response_format"])``), ``GET /v1/models``
and ``GET /models``. Streaming requests get a 400.

Per chat request, in this order:

1. ``auth_token`` set and the ``Authorization: Bearer ...`` header differs -> 401, OpenAI-style error JSON
   (counted in ``faults["401"]``);
2. an outcome: the next entry of ``script`` if one is left (``"ok"`` or a fault kind; ``queue()`` appends
   to it while the server runs), else a draw from a
   ``random.Random(seed)`` shared by all requests (under a lock): with probability ``fault_rate`` a fault
   chosen uniformly from ``faults``, else ``"ok"``. The sequence of outcomes is deterministic; which
   concurrent request gets which outcome depends on arrival order.

Fault kinds:

- ``"429"``: 429 with OpenAI-style rate-limit error JSON, no Retry-After;
- ``"429-retry-after"``: the same with ``Retry-After: 1`` (seconds);
- ``"500"``: 500 server error JSON;  ``"503"``: 503 error JSON (not in the default set);
- ``"slow"``: sleeps ``slow_seconds`` then answers normally (the client is expected to time out first);
  ``stop()`` cuts the sleep short;
- ``"garbage"``: 200, ``Content-Type: application/json``, body that is not JSON;
- ``"disconnect"``: closes the connection without any response (not in the default set);
- ``"bad-content"``: 200, a well-formed completion whose content is the first half of the toy answer (so
  truncated JSON when JSON was asked) (not in the default set; counted in ``faults``, not in ``served``);
- ``"no-choices"``: 200, a well-formed completion with ``"choices": []`` (not in the default set; likewise).

``latency`` (seconds, default 0) delays every chat answer, faults included, so concurrent requests overlap.

``capacity`` (default None: unlimited) is how many chat requests the server takes at once, like a rate-limited
endpoint or a proxy with ``max_parallel_requests``: a request arriving while ``capacity`` are being handled gets
an immediate 429 without Retry-After (counted in ``faults["over-capacity"]``), before any latency or outcome.

Counters (thread-safe): ``requests`` (every HTTP request received, any path), ``served`` (200 answers of
``"ok"`` outcomes; slow answers are NOT counted), ``faults`` (dict kind -> count, with a key for every
configured kind and ``"401"``), ``last_body`` (the last chat request JSON), ``bodies()`` (every one), ``in_flight`` / ``max_in_flight``
(chat requests being handled now / at most at once, over-capacity ones excluded), ``arrivals`` (time.monotonic()
of every chat request, to check rates over any window). ``reset_counters()`` zeroes them (the RNG and script
are not rewound).

Manual use: ``python tests/fault_server.py --port 8000 --fault-rate 0.3``.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

try:  # works whether tests/ is a package or a plain directory on sys.path
    from . import toy_model  # type: ignore[import-not-found]
except ImportError:
    import toy_model  # type: ignore[no-redef]

DEFAULT_FAULTS: tuple[str, ...] = ("429", "429-retry-after", "500", "slow", "garbage")
KNOWN_FAULTS: frozenset[str] = frozenset(DEFAULT_FAULTS) | {"503", "disconnect", "bad-content", "no-choices"}
CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")
MODEL_PATHS = ("/v1/models", "/models")
GARBAGE_BODY = b"<html><body>502 Bad Gateway (not JSON at all) {{{"


def _error(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for slow handlers
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops connections under concurrency: the client then times out
    owner: FaultServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: no stale keep-alive sockets between tests

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence per-request logging
        if self.server.owner.verbose:
            super().log_message(format, *args)

    # -- helpers ----------------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str = "application/json", headers: dict | None = None):
        self._release()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            return True
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            return False

    def _send_json(self, status: int, obj: Any, headers: dict | None = None) -> bool:
        return self._send(status, json.dumps(obj).encode(), headers=headers)

    def _path(self) -> str:
        return self.path.split("?", 1)[0].rstrip("/") or "/"

    # -- verbs ------------------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802
        owner = self.server.owner
        owner._count_request()
        if self._path() in MODEL_PATHS:
            self._send_json(
                200,
                {"object": "list", "data": [{"id": owner.model_name, "object": "model", "created": 0, "owned_by": "toy"}]},
            )
        else:
            self._send_json(404, _error(f"Unknown path {self.path}", "invalid_request_error", "not_found"))

    def do_POST(self) -> None:  # noqa: N802
        owner = self.server.owner
        owner._count_request()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if self._path() not in CHAT_PATHS:
            self._send_json(404, _error(f"Unknown path {self.path}", "invalid_request_error", "not_found"))
            return
        if not owner._enter():
            owner._count_fault("over-capacity")
            self._send_json(429, _error("Too many requests in flight.", "requests", "rate_limit_exceeded"))
            return
        self._in_flight = True
        try:
            self._chat(raw)
        finally:
            self._release()

    def _release(self) -> None:
        """The request stops counting as in flight once, before its answer is written: a client may send its
        next request as soon as it has read one, possibly before this thread runs again, so leaving after the
        write would count one request too many in a burst."""
        if getattr(self, "_in_flight", False):
            self._in_flight = False
            self.server.owner._leave()

    def _chat(self, raw: bytes) -> None:
        owner = self.server.owner
        if owner.latency > 0 and owner._stopping.wait(owner.latency):
            return  # server stopping

        if owner.auth_token is not None:
            auth = self.headers.get("Authorization", "")
            if auth != f"Bearer {owner.auth_token}":
                owner._count_fault("401")
                self._send_json(
                    401,
                    _error("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
                )
                return

        try:
            body = json.loads(raw or b"null")
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                raise ValueError("body must be a JSON object with a `messages` list")
        except ValueError as exc:
            self._send_json(400, _error(f"Invalid request: {exc}", "invalid_request_error", None))
            return
        owner._set_last_body(body)
        if body.get("stream"):
            self._send_json(400, _error("Streaming is not supported by the fault server.", "invalid_request_error", None))
            return

        outcome = owner._next_outcome()
        if outcome != "ok":
            owner._count_fault(outcome)
        if outcome == "429":
            self._send_json(429, _error("Rate limit reached for requests.", "requests", "rate_limit_exceeded"))
            return
        if outcome == "429-retry-after":
            self._send_json(
                429,
                _error("Rate limit reached for requests. Please retry after 1s.", "requests", "rate_limit_exceeded"),
                headers={"Retry-After": "1"},
            )
            return
        if outcome == "500":
            self._send_json(500, _error("The server had an error while processing your request.", "server_error", None))
            return
        if outcome == "503":
            self._send_json(503, _error("The engine is currently overloaded.", "server_error", None))
            return
        if outcome == "garbage":
            self._send(200, GARBAGE_BODY)
            return
        if outcome == "disconnect":
            self.close_connection = True
            self._release()
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        if outcome == "slow":
            if owner._stopping.wait(owner.slow_seconds):
                return  # server stopping: give up without answering

        seed = body.get("seed")
        text = toy_model.answer(
            body["messages"],
            seed=seed if isinstance(seed, int) else None,
            response_format=body.get("response_format"),
        )
        if outcome == "bad-content":
            text = text[: len(text) // 2]
        prompt_tokens, completion_tokens = toy_model.usage(body["messages"], text)
        n = owner._count_request_id()
        payload = {
            "id": f"chatcmpl-toy-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model") or owner.model_name),
            "system_fingerprint": None,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        if outcome == "no-choices":
            payload["choices"] = []
        if self._send_json(200, payload) and outcome == "ok":
            owner._count_served()


class FaultServer:
    """OpenAI-compatible toy-model server with deterministic fault injection; see the module docstring."""

    handler_class: type[BaseHTTPRequestHandler] = _Handler  # batch_server.py adds the files and batches endpoints

    def __init__(
        self,
        fault_rate: float = 0.0,
        seed: int = 0,
        faults: Iterable[str] = DEFAULT_FAULTS,
        slow_seconds: float = 3.0,
        auth_token: str | None = None,
        *,
        script: Iterable[str] | None = None,
        latency: float = 0.0,
        capacity: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        model_name: str = "toy",
        verbose: bool = False,
    ) -> None:
        self.faults_enabled: tuple[str, ...] = tuple(faults)
        unknown = [f for f in self.faults_enabled if f not in KNOWN_FAULTS]
        if script is not None:
            script = list(script)
            unknown += [f for f in script if f != "ok" and f not in KNOWN_FAULTS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {sorted(KNOWN_FAULTS)}")
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError("fault_rate must be in [0, 1]")
        if fault_rate > 0 and not self.faults_enabled:
            raise ValueError("fault_rate > 0 needs at least one fault kind")
        self.fault_rate = float(fault_rate)
        self.seed = seed
        self.slow_seconds = float(slow_seconds)
        self.latency = float(latency)
        self.capacity = capacity
        self.auth_token = auth_token
        self.host = host
        self.model_name = model_name
        self.verbose = verbose
        self._requested_port = port
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._script: list[str] = list(script or [])
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ids = 0
        self._in_flight = 0
        self.reset_counters()

    # -- counters ---------------------------------------------------------------------------------------
    def reset_counters(self) -> None:
        with self._lock:
            self._requests = 0
            self._served = 0
            self._faults = {kind: 0 for kind in (*self.faults_enabled, *self._script, "401") if kind != "ok"}
            self._last_body: dict | None = None
            self._bodies: list[dict] = []
            self._max_in_flight = self._in_flight  # requests still in flight stay counted
            self._arrivals: list[float] = []

    @property
    def requests(self) -> int:
        with self._lock:
            return self._requests

    @property
    def served(self) -> int:
        with self._lock:
            return self._served

    @property
    def faults(self) -> dict[str, int]:
        with self._lock:
            return dict(self._faults)

    @property
    def bodies(self) -> list[dict]:
        """Every chat request's JSON body since the last reset, in arrival order."""
        with self._lock:
            return list(self._bodies)

    @property
    def last_body(self) -> dict | None:
        with self._lock:
            return self._last_body

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    @property
    def max_in_flight(self) -> int:
        with self._lock:
            return self._max_in_flight

    @property
    def arrivals(self) -> list[float]:
        with self._lock:
            return list(self._arrivals)

    def _enter(self) -> bool:
        """Count a chat request in; False (not counted) when the server is at capacity."""
        with self._lock:
            self._arrivals.append(time.monotonic())
            if self.capacity is not None and self._in_flight >= self.capacity:
                return False
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            return True

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _count_request(self) -> None:
        with self._lock:
            self._requests += 1

    def _count_served(self) -> None:
        with self._lock:
            self._served += 1

    def _count_fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] = self._faults.get(kind, 0) + 1

    def _count_request_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    def _set_last_body(self, body: dict) -> None:
        with self._lock:
            self._last_body = body
            self._bodies.append(body)

    def queue(self, outcomes: Iterable[str]) -> None:
        """Append outcomes (``"ok"`` or fault kinds) to the script, e.g. to script a running server's next answers."""
        outcomes = list(outcomes)
        unknown = [f for f in outcomes if f != "ok" and f not in KNOWN_FAULTS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {sorted(KNOWN_FAULTS)}")
        with self._lock:
            self._script.extend(outcomes)
            for kind in outcomes:
                if kind != "ok":
                    self._faults.setdefault(kind, 0)

    def _next_outcome(self) -> str:
        with self._lock:
            if self._script:
                return self._script.pop(0)
            if self.fault_rate > 0 and self._rng.random() < self.fault_rate:
                return self._rng.choice(self.faults_enabled)
            return "ok"

    # -- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> FaultServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _Server((self.host, self._requested_port), self.handler_class)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fault-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FaultServer is not running; call start() or use it as a context manager")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://host:port`` (no ``/v1``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The ``api_base`` for litellm / openai: ``http://host:port/v1``."""
        return f"{self.base_url}/v1"

    def __repr__(self) -> str:
        where = self.url if self._httpd is not None else "stopped"
        return f"FaultServer({where}, fault_rate={self.fault_rate}, faults={self.faults_enabled})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fault-injecting OpenAI-compatible toy-model server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--faults", default=",".join(DEFAULT_FAULTS), help="comma-separated fault kinds")
    parser.add_argument("--slow-seconds", type=float, default=3.0)
    parser.add_argument("--auth-token", default=None)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every chat answer")
    parser.add_argument("--capacity", type=int, default=None, help="requests taken at once; 429 above")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)
    server = FaultServer(
        fault_rate=args.fault_rate,
        seed=args.seed,
        faults=[f for f in args.faults.split(",") if f],
        slow_seconds=args.slow_seconds,
        auth_token=args.auth_token,
        host=args.host,
        port=args.port,
        latency=args.latency,
        capacity=args.capacity,
        verbose=not args.quiet,
    )
    def _interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started in the background (SIGINT ignored there)
    with server:
        print(f"fault server on {server.url} (fault_rate={server.fault_rate}, faults={server.faults_enabled})", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    print(f"requests={server.requests} served={server.served} faults={server.faults}", flush=True)


if __name__ == "__main__":
    main()
