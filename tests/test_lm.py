"""The LM call layer against a real HTTP server through litellm (the fault server): one request per attempt,
which failures are retried and how long it waits, concurrency bounds, budgets and usage."""

from __future__ import annotations

import asyncio
import time

import litellm
import pytest

from opro_cli.errors import BudgetExhausted, InputError, ProviderError
from opro_cli.lm import LM, Budget, ProviderUnavailable, RetryPolicy
from opro_cli.lm.provider_errors import is_transient, retry_after
from opro_cli.spec import ModelConfig
from server_task import KEY, KEY_ENV

REVIEW = [{"role": "user", "content": "Review: the plot was wonderful and moving"}]


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)


def model_of(server, **extra) -> ModelConfig:
    return ModelConfig(name="openai/toy", api_base=server.url, api_key_env=KEY_ENV, **{"timeout": 1.0, **extra})


def fast_lm(**kwargs) -> LM:
    return LM(retry=RetryPolicy(attempts=kwargs.pop("attempts", 7), base_delay=0.01), **kwargs)


def ask(lm: LM, model: ModelConfig, times: int = 1, **kwargs):
    async def many():
        return await asyncio.gather(*(lm.complete(model, REVIEW, **kwargs) for _ in range(times)))

    results = asyncio.run(many())
    return results[0] if times == 1 else results


def test_a_call_is_one_request_with_its_params_and_usage(fault_server):
    server = fault_server()
    lm = fast_lm()
    completion = ask(lm, model_of(server, max_tokens=5), seed=7, temperature=0.0)
    assert completion.text == "I think this review is positive." and not completion.cached
    assert (completion.prompt_tokens, completion.completion_tokens) == (7, 6)
    assert server.requests == 1 and lm.usage.calls == 1 and lm.usage.retries == 0
    assert {k: server.last_body[k] for k in ("seed", "temperature", "max_tokens")} == {"seed": 7, "temperature": 0.0, "max_tokens": 5}
    assert lm.usage.cost == 0.0 and lm.usage.lm_seconds > 0  # an unpriced model costs 0, no error


@pytest.mark.parametrize("fault", ["429", "500", "503", "garbage", "slow", "disconnect"])
def test_each_transient_fault_is_retried_once_per_request(fault_server, fault):
    server = fault_server(script=[fault, "ok"], slow_seconds=2.0)
    lm = fast_lm()
    completion = ask(lm, model_of(server, timeout=0.3))
    assert completion.text == "I think this review is positive."
    assert server.requests == 2 and lm.usage.calls == 2 and lm.usage.retries == 1


def test_retry_after_is_honoured(fault_server):
    server = fault_server(script=["429-retry-after", "ok"])
    lm = fast_lm()
    started = time.monotonic()
    ask(lm, model_of(server))
    assert time.monotonic() - started >= 0.95  # the server asked for 1 s; the backoff alone would be ~0.01 s
    assert server.requests == 2


def test_backoff_grows_between_attempts(fault_server):
    server = fault_server(script=["500", "500", "500", "ok"])
    lm = LM(retry=RetryPolicy(attempts=4, base_delay=0.1))
    started = time.monotonic()
    ask(lm, model_of(server))
    # Jittered in [d/2, d] with d = 0.1, 0.2, 0.4: at least 0.35 s, at most 0.7 s (plus the requests).
    assert 0.35 <= time.monotonic() - started < 1.5
    assert server.requests == 4 and lm.usage.retries == 3


def test_retries_run_out_with_one_clear_error(fault_server):
    server = fault_server(fault_rate=1.0, faults=("500",))
    lm = fast_lm(attempts=3)
    with pytest.raises(ProviderUnavailable, match=r"^openai/toy: still failing after 3 attempts: InternalServerError \(HTTP 500\)"):
        ask(lm, model_of(server))
    assert server.requests == 3 and lm.usage.calls == 3


def test_a_refused_key_is_one_request_even_with_calls_waiting(fault_server):
    server = fault_server(auth_token="sk-other")
    lm = fast_lm(concurrency=8)
    with pytest.raises(ProviderError) as info:
        ask(lm, model_of(server), times=8)
    assert str(info.value).startswith("openai/toy: AuthenticationError (HTTP 401): Incorrect API key provided.")
    assert f"check the API key in ${KEY_ENV}" in str(info.value)
    assert server.requests == 1 and lm.usage.calls == 1 and lm.usage.retries == 0


def test_unknown_path_is_final(fault_server):
    server = fault_server()
    lm = fast_lm()
    model = ModelConfig(name="openai/toy", api_base=server.base_url + "/nowhere", api_key_env=KEY_ENV, timeout=1.0)
    with pytest.raises(ProviderError, match=r"^openai/toy: \w+ \(HTTP 404\): Unknown path .*\(check the model name and api_base\)$"):
        ask(lm, model)
    assert server.requests == 1


def test_concurrency_bounds_requests_in_flight(fault_server):
    server = fault_server(latency=0.1)
    lm = fast_lm(concurrency=3)
    ask(lm, model_of(server), times=12)
    assert server.max_in_flight == 3 and server.requests == 12


def test_one_lm_serves_several_event_loops(fault_server):
    server = fault_server(latency=0.05)
    lm = fast_lm(concurrency=2)
    for _ in range(3):
        ask(lm, model_of(server), times=4)
    assert server.requests == 12 and server.max_in_flight == 2


def test_call_budget_is_checked_before_each_request_retries_included(fault_server):
    server = fault_server(script=["500", "ok", "ok"])
    lm = fast_lm(budget=Budget(max_calls=3))
    ask(lm, model_of(server))  # 2 requests: a failure and its retry
    ask(lm, model_of(server))  # the 3rd
    with pytest.raises(BudgetExhausted, match="call budget of 3 reached"):
        ask(lm, model_of(server))
    assert server.requests == 3 and lm.usage.calls == 3


def test_call_budget_holds_under_concurrency(fault_server):
    server = fault_server(latency=0.02)
    lm = fast_lm(concurrency=4, budget=Budget(max_calls=5))
    with pytest.raises(BudgetExhausted):
        ask(lm, model_of(server), times=12)
    assert server.requests <= 5 and lm.usage.calls == 5


def test_a_missing_key_variable_sends_nothing(fault_server, monkeypatch):
    server = fault_server()
    monkeypatch.delenv(KEY_ENV)
    lm = fast_lm()
    with pytest.raises(InputError, match=f"environment variable {KEY_ENV} is not set"):
        ask(lm, model_of(server))
    assert server.requests == 0 and lm.usage.calls == 0


def test_an_answer_without_choices_is_an_empty_answer(fault_server):
    server = fault_server(script=["no-choices"])
    completion = ask(fast_lm(), model_of(server))
    assert completion.text == "" and server.requests == 1


def test_retry_base_delay_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("OPRO_RETRY_BASE_DELAY", "0.05")
    assert RetryPolicy().base_delay == 0.05
    monkeypatch.setenv("OPRO_RETRY_BASE_DELAY", "soon")
    with pytest.raises(InputError, match="OPRO_RETRY_BASE_DELAY"):
        RetryPolicy()


def _api_error(status: int, message: str = "boom") -> Exception:
    return litellm.APIError(status_code=status, message=message, llm_provider="openai", model="toy")


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (lambda: _api_error(402, "payment required"), False),  # litellm maps these to a generic APIError:
        (lambda: _api_error(403, "forbidden"), False),  # retrying cannot help
        (lambda: _api_error(413, "request too large"), False),
        (lambda: _api_error(409), True),
        (lambda: _api_error(529, "overloaded"), True),
        (lambda: litellm.BadGatewayError(message="bad gateway", llm_provider="openai", model="toy"), True),
        (lambda: litellm.RateLimitError(message="slow down", llm_provider="openai", model="toy"), True),
        (
            lambda: litellm.RateLimitError(
                message="You exceeded your current quota, please check your plan", llm_provider="openai", model="toy"
            ),
            False,
        ),
        (lambda: litellm.ContextWindowExceededError(message="too long", llm_provider="openai", model="toy"), False),
        (lambda: litellm.Timeout(message="timed out", llm_provider="openai", model="toy"), True),
        (lambda: ConnectionResetError(), True),
        (lambda: ValueError("a bug, not a provider failure"), False),
    ],
)
def test_which_failures_are_transient(error, transient):
    assert is_transient(litellm, error()) is transient


def test_retry_after_forms():
    class Failure(Exception):
        def __init__(self, headers):
            self.litellm_response_headers = headers

    assert retry_after(Failure({"Retry-After": "2"})) == 2.0
    assert retry_after(Failure({"retry-after-ms": "250", "retry-after": "1"})) == 0.25
    assert 0 < retry_after(Failure({"retry-after": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 5))})) <= 5
    assert retry_after(Failure({"retry-after": "whenever"})) is None
    assert retry_after(Failure(None)) is None
