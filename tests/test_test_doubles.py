"""The offline test doubles work, and work through litellm for real (nothing of litellm is patched)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import litellm
import pytest
import toy_model
from fault_server import FaultServer

# Both are needed for "exactly one HTTP request": `max_retries` reaches the openai client (which retries 2x by
# default); `num_retries` is litellm's own wrapper (and, when given, also overrides `max_retries`).
NO_RETRY = {"num_retries": 0, "max_retries": 0}

HARD = "the acting was really great and fun"  # 7 words: a "hard" review, positive
EASY = "the plot was wonderful and moving"  # 6 words, positive


def run(coro):
    return asyncio.run(coro)


def user(review: str) -> dict:
    return {"role": "user", "content": f"Review: {review}"}


def shot(review: str) -> list[dict]:
    return [user(review), {"role": "assistant", "content": toy_model.label_of(review)}]


META_PROMPT = [
    {
        "role": "user",
        "content": "Earlier instructions and scores:\ntext: Classify the review.\nscore: 40\n"
        "Write a new instruction that scores higher, between <INS> and </INS>.",
    }
]

JSON_SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "verdict",
        "schema": {
            "type": "object",
            "properties": {"reasoning": {"type": "string"}, "answer": {"type": "string"}},
            "required": ["reasoning", "answer"],
        },
    },
}


# ---------------------------------------------------------------------------------------------- toy model
def test_toy_model_rules():
    assert toy_model.label_of("great fun but dull") == "positive"
    assert toy_model.label_of("great but dull") == "negative"  # tie -> negative
    assert toy_model.label_of("nothing to say") == "negative"
    assert toy_model.is_hard(HARD) and not toy_model.is_hard(EASY)

    plain = [{"role": "system", "content": "Classify the sentiment."}, user(EASY)]
    assert toy_model.answer(plain) == "I think this review is positive."
    one_word = [{"role": "system", "content": "Answer with ONE WORD."}, user(EASY)]
    assert toy_model.answer(one_word) == "positive"
    assert toy_model.answer([one_word[0], user(HARD)]) == "negative"  # hard review, < 2 shots: flipped
    assert toy_model.answer([*shot("bad and dull"), user(HARD)]) == "negative"  # 1 shot: still flipped
    assert toy_model.answer([*shot("bad and dull"), *shot("good fun"), user(HARD)]) == "positive"  # 2 shots: fixed
    assert json.loads(toy_model.answer([user(HARD)], response_format={"type": "json_object"})) == {
        "answer": "positive"
    }
    assert toy_model.usage([user(EASY)], "positive") == (7, 1)


def test_toy_model_proposals():
    assert toy_model.answer(META_PROMPT) == f"Here is a new one: <INS>{toy_model.INSTRUCTIONS[0]}</INS>"
    assert toy_model.ONE_WORD_INDICES == (3, 6)
    for seed in (0, 5, 10, 25):
        assert "<INS>" not in toy_model.answer(META_PROMPT, seed=seed)
    assert "one word" in toy_model.answer(META_PROMPT, seed=3)
    assert "one word" in toy_model.answer(META_PROMPT, seed=11)
    assert "one word" not in toy_model.answer(META_PROMPT, seed=1)
    proposals = {toy_model.answer(META_PROMPT, seed=s) for s in range(1, 30) if s % 5}
    assert len(proposals) == len(toy_model.INSTRUCTIONS)


def test_synthetic_reviews_are_deterministic_and_labelled():
    data = toy_model.synthetic_reviews(40, seed=1)
    assert data == toy_model.synthetic_reviews(40, seed=1)
    assert all(toy_model.label_of(text) == label for text, label in data)
    assert {label for _, label in data} == {"positive", "negative"}
    assert 0 < sum(toy_model.is_hard(text) for text, _ in data) < 40


# ---------------------------------------------------------------------------------------------- toy provider
def _content(response) -> str:
    return response.choices[0].message.content


def test_toy_provider_registration_is_idempotent(toy_provider):
    toy_provider.register()
    toy_provider.register()
    assert [e["provider"] for e in litellm.custom_provider_map].count("toy") == 1


def test_toy_provider_sentence_without_shots(toy_provider):
    messages = [{"role": "system", "content": "Classify the sentiment."}, user(EASY)]
    response = run(litellm.acompletion(model="toy/sentiment", messages=messages, seed=3))
    assert _content(response) == "I think this review is positive."
    assert response.usage.prompt_tokens == 3 + 7
    assert response.usage.completion_tokens == 6
    assert response.usage.total_tokens == 16
    assert toy_provider.CALLS == 1


def test_toy_provider_bare_label_with_a_shot(toy_provider):
    messages = [*shot("awful and boring"), user(EASY)]
    response = run(litellm.acompletion(model="toy/sentiment", messages=messages))
    assert _content(response) == "positive"
    assert toy_provider.CALLS.by_model == {"sentiment": 1}


def test_toy_provider_passes_seed_and_response_format(toy_provider):
    response = run(
        litellm.acompletion(
            model="toy/sentiment",
            messages=[user(HARD)],
            seed=7,
            temperature=0,
            response_format=JSON_SCHEMA_FORMAT,
        )
    )
    text = _content(response)
    assert list(json.loads(text)) == ["reasoning", "answer"]
    assert json.loads(text)["answer"] == "positive"
    params = toy_provider.CALLS.last["optional_params"]
    assert params["seed"] == 7
    assert params["temperature"] == 0
    assert params["response_format"] == JSON_SCHEMA_FORMAT


def test_toy_provider_proposes_instructions(toy_provider):
    async def propose(seeds):
        return await asyncio.gather(
            *(litellm.acompletion(model="toy/sentiment", messages=META_PROMPT, seed=s, temperature=1.0) for s in seeds)
        )

    responses = run(propose([3, 5, 6]))
    texts = [_content(r) for r in responses]
    assert texts[0] == "Here is a new one: <INS>Answer with one word: positive or negative.</INS>"
    assert "<INS>" not in texts[1]
    assert "one word" in texts[2]
    assert toy_provider.CALLS == 3


def test_toy_provider_sync_completion(toy_provider):
    response = litellm.completion(model="toy/sentiment", messages=[*shot("good"), *shot("bad"), user(HARD)])
    assert _content(response) == "positive"


def test_toy_provider_fail_auth(toy_provider):
    with pytest.raises(litellm.AuthenticationError) as info:
        run(litellm.acompletion(model="toy/fail-auth", messages=[user(EASY)]))
    assert info.value.status_code == 401
    with pytest.raises(litellm.RateLimitError):
        run(litellm.acompletion(model="toy/fail-rate-limit", messages=[user(EASY)]))
    with pytest.raises(litellm.NotFoundError):
        run(litellm.acompletion(model="toy/no-such-model", messages=[user(EASY)]))
    assert toy_provider.CALLS == 3  # no hidden retries for custom providers


# ---------------------------------------------------------------------------------------------- fault server
def _ask(server, messages=None, **kwargs):
    return run(
        litellm.acompletion(
            model="openai/toy",
            api_base=server.url,
            api_key="sk-test",
            messages=messages or [user(EASY)],
            **kwargs,
        )
    )


def test_fault_server_answers_through_litellm(fault_server):
    server = fault_server(fault_rate=0)
    response = _ask(server, [*shot("dull"), user(EASY)], seed=4, **NO_RETRY)
    assert _content(response) == "positive"
    assert response.usage.prompt_tokens == 2 + 1 + 7  # "Review: dull", "dull", "Review: ..."
    assert response.usage.completion_tokens == 1
    assert (server.requests, server.served) == (1, 1)
    assert server.last_body["seed"] == 4

    response = _ask(server, [user(HARD)], response_format=JSON_SCHEMA_FORMAT, **NO_RETRY)
    assert json.loads(_content(response)) == {"reasoning": "The review reads as positive.", "answer": "positive"}
    assert server.last_body["response_format"] == JSON_SCHEMA_FORMAT
    assert (server.requests, server.served) == (2, 2)
    assert sum(server.faults.values()) == 0


def test_fault_server_429_raises_rate_limit_without_retries(fault_server):
    server = fault_server(fault_rate=1.0, faults=("429",))
    with pytest.raises(litellm.RateLimitError):
        _ask(server, **NO_RETRY)
    assert server.requests == 1
    assert server.faults["429"] == 1
    assert server.served == 0


def test_fault_server_429_retry_after_header_reaches_the_caller(fault_server):
    server = fault_server(fault_rate=1.0, faults=("429-retry-after",))
    with pytest.raises(litellm.RateLimitError) as info:
        _ask(server, **NO_RETRY)
    assert info.value.litellm_response_headers["retry-after"] == "1"
    assert server.requests == 1


def test_openai_client_retries_twice_by_default(fault_server):
    server = fault_server(fault_rate=1.0, faults=("500",))
    with pytest.raises(litellm.InternalServerError):
        _ask(server)  # no retry params: the openai SDK makes 1 + 2 attempts (with short backoff)
    assert server.requests == 3
    server.reset_counters()
    with pytest.raises(litellm.InternalServerError):
        _ask(server, **NO_RETRY)
    assert server.requests == 1


def test_fault_server_500(fault_server):
    server = fault_server(fault_rate=1.0, faults=("500",))
    with pytest.raises(litellm.InternalServerError) as info:
        _ask(server, **NO_RETRY)
    assert info.value.status_code == 500


def test_fault_server_401(fault_server):
    server = fault_server(auth_token="sk-right")
    with pytest.raises(litellm.AuthenticationError) as info:
        _ask(server, **NO_RETRY)
    assert info.value.status_code == 401
    assert server.faults["401"] == 1
    response = run(
        litellm.acompletion(
            model="openai/toy", api_base=server.url, api_key="sk-right", messages=[user(EASY)], **NO_RETRY
        )
    )
    assert _content(response) == "I think this review is positive."


def test_fault_server_garbage_is_an_internal_server_error(fault_server):
    server = fault_server(fault_rate=1.0, faults=("garbage",))
    with pytest.raises(litellm.InternalServerError) as info:
        _ask(server, **NO_RETRY)
    assert info.value.status_code == 500
    assert server.requests == 1 and server.faults["garbage"] == 1


def test_fault_server_slow_times_out(fault_server):
    server = fault_server(fault_rate=1.0, faults=("slow",), slow_seconds=3.0)
    start = time.monotonic()
    with pytest.raises(litellm.Timeout):
        _ask(server, timeout=0.5, **NO_RETRY)
    assert time.monotonic() - start < 2.0
    assert server.requests == 1 and server.faults["slow"] == 1 and server.served == 0
    start = time.monotonic()
    server.stop()  # cuts the pending slow answer short
    assert time.monotonic() - start < 1.0


def test_fault_draws_are_deterministic_and_scriptable():
    def outcomes(server, n):
        got = []
        for _ in range(n):
            request = urllib.request.Request(
                server.url + "/chat/completions",
                data=json.dumps({"model": "toy", "messages": [user(EASY)]}).encode(),
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as reply:
                    got.append(reply.status)
            except urllib.error.HTTPError as error:
                got.append(error.code)
        return got

    faults = ("429", "500")
    with FaultServer(fault_rate=0.5, seed=1, faults=faults) as a, FaultServer(fault_rate=0.5, seed=1, faults=faults) as b:
        first = outcomes(a, 12)
        assert first == outcomes(b, 12)
        assert {200, 429, 500} <= set(first)
        assert a.served == first.count(200) and a.requests == 12
        assert a.faults["429"] == first.count(429) and a.faults["500"] == first.count(500)
    with FaultServer(script=["429", "ok", "500"]) as c:
        assert outcomes(c, 4) == [429, 200, 500, 200]
        with urllib.request.urlopen(c.url + "/models", timeout=5) as reply:
            assert json.loads(reply.read())["data"][0]["id"] == "toy"
        c.reset_counters()
        assert (c.requests, c.served, sum(c.faults.values())) == (0, 0, 0)


def test_fault_server_under_concurrency(fault_server):
    server = fault_server(fault_rate=0.3, seed=2, faults=("429", "500"))

    async def many():
        calls = [
            litellm.acompletion(
                model="openai/toy", api_base=server.url, api_key="sk-test", messages=[user(EASY)], **NO_RETRY
            )
            for _ in range(20)
        ]
        return await asyncio.gather(*calls, return_exceptions=True)

    results = run(many())
    ok = [r for r in results if not isinstance(r, Exception)]
    failed = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(e, (litellm.RateLimitError, litellm.InternalServerError)) for e in failed)
    assert server.requests == 20
    assert server.served == len(ok) and sum(server.faults.values()) == len(failed)
    assert 0 < len(failed) < 20
