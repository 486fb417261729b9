"""`deployments:` through litellm's Router, against several fault servers over real HTTP: load shared within each
deployment's limits, a failing deployment cooled down while the others finish the run, rpm never exceeded,
the cache shared across deployments, keys kept out of everything written."""

from __future__ import annotations

import asyncio
import bisect
import json

import pytest
import yaml

from opro_cli.artifact import load_artifact
from opro_cli.errors import InputError
from opro_cli.lm import LM, RetryPolicy
from opro_cli.lm.cache import ResponseCache
from opro_cli.spec import ModelConfig, load_spec
from server_task import KEY, KEY_ENV, optimize, same_result, use_server_env, write_server_task
from toy_task import spec_dict


@pytest.fixture(autouse=True)
def env(monkeypatch):
    use_server_env(monkeypatch)


def pool_of(*servers, **deployment) -> ModelConfig:
    return ModelConfig(
        name="openai/toy", api_key_env=KEY_ENV, timeout=2.0,
        deployments=[{"api_base": s.url, **deployment} for s in servers],
    )


def ask_many(lm: LM, model: ModelConfig, times: int, offset: int = 0) -> list[str]:
    async def many():
        return await asyncio.gather(
            *(lm.complete(model, [{"role": "user", "content": f"Review: fine film {i + offset}"}]) for i in range(times))
        )

    return [c.text for c in asyncio.run(many())]


def test_two_deployments_share_the_load_within_max_parallel(fault_server):
    a, b = fault_server(latency=0.05), fault_server(latency=0.05)
    lm = LM(concurrency=32)
    answers = ask_many(lm, pool_of(a, b, max_parallel=3), 120)
    assert len(answers) == 120 and all(answers)
    assert a.served + b.served == 120 and a.requests + b.requests == 120  # the Router retried nothing
    assert min(a.served, b.served) >= 0.35 * 120, (a.served, b.served)
    assert a.max_in_flight <= 3 and b.max_in_flight <= 3
    assert "/v1 " in lm.concurrency_text() and str(a.port) in lm.concurrency_text()


def test_weights_tilt_the_share(fault_server):
    a, b = fault_server(), fault_server()
    model = ModelConfig(name="openai/toy", api_key_env=KEY_ENV, deployments=[
        {"api_base": a.url, "weight": 9}, {"api_base": b.url, "weight": 1}])
    ask_many(LM(concurrency=1), model, 60)
    assert a.served > 3 * b.served


def test_rpm_is_never_exceeded_and_the_rest_goes_elsewhere(fault_server):
    limited, other = fault_server(), fault_server()
    model = ModelConfig(name="openai/toy", api_key_env=KEY_ENV, deployments=[
        {"api_base": limited.url, "rpm": 5, "weight": 100}, {"api_base": other.url}])
    ask_many(LM(concurrency=4), model, 40)
    assert limited.requests == 5 and other.requests == 35


def test_rpm_holds_as_the_server_counts_even_when_a_burst_arrives_late(fault_server):
    """Requests handed off together reach the server milliseconds apart; a later burst must not land within a
    window of the stragglers. The window is shortened here (a minute by default); the server's own arrival times
    are checked over every window that starts at an arrival (the busiest one always does)."""
    server = fault_server(latency=0.05)
    window, rpm = 0.3, 6
    lm = LM(concurrency=8, rpm_window=window)
    answers = ask_many(lm, pool_of(server, rpm=rpm), 36)
    arrivals = sorted(server.arrivals)
    busiest = max(bisect.bisect_left(arrivals, t + window) - i for i, t in enumerate(arrivals))
    assert len(answers) == 36 and all(answers) and len(arrivals) == 36
    assert busiest <= rpm, busiest


def test_a_refused_deployment_is_cooled_down_and_its_calls_go_to_the_others(fault_server):
    healthy, failing = fault_server(), fault_server(fault_rate=1.0, faults=["500"])
    lm = LM(concurrency=4, retry=RetryPolicy(base_delay=0.01))
    answers = ask_many(lm, pool_of(healthy, failing), 60)
    assert all(answers) and healthy.served == 60
    assert failing.requests <= 6, failing.requests  # a couple of failures, then the Router keeps it out
    assert lm.usage.retries == failing.requests


def test_killing_a_deployment_mid_run_loses_nothing_and_changes_no_score(tmp_path, fault_server):
    a, b = fault_server(latency=0.01), fault_server(latency=0.01)
    deployments = [{"api_base": a.url}, {"api_base": b.url}]
    task = write_server_task(tmp_path, a, train_size=28, model={"api_base": None, "deployments": deployments})
    optimize(task, "--no-cache", "-j", "4", "-o", tmp_path / "healthy.json")
    needed = a.served + b.served

    a.reset_counters()
    b.reset_counters()
    killer = _stop_after_served(b, 10)  # b answers ten calls, then dies: connection refused from then on
    optimize(task, "--no-cache", "-j", "4", "--retries", "10", "-o", tmp_path / "killed.json")
    killer.join()
    assert 10 <= b.served < needed / 2 and a.served + b.served == needed  # every answer once, none lost
    assert same_result(tmp_path / "healthy.json", tmp_path / "killed.json")
    assert load_artifact(tmp_path / "killed.json").run.stopped == "completed"


def _stop_after_served(server, count: int):
    import threading
    import time

    def watch():
        deadline = time.monotonic() + 60
        while server.served < count and time.monotonic() < deadline:
            time.sleep(0.002)
        server.stop()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("through_router", [False, True])
def test_a_priced_model_is_charged_and_an_unpriced_one_is_free(fault_server, through_router):
    """Calls to a model litellm has no price for tell it so (its cost search is skipped); a priced one keeps its price."""
    server = fault_server()
    place = {"deployments": [{"api_base": server.url}]} if through_router else {"api_base": server.url}
    priced, unpriced = LM(), LM()
    ask_many(priced, ModelConfig(name="openai/gpt-4o-mini", api_key_env=KEY_ENV, **place), 4)
    answers = ask_many(unpriced, ModelConfig(name="openai/toy", api_key_env=KEY_ENV, **place), 4, offset=4)
    assert priced.usage.cost > 0 and priced.usage.calls == 4
    assert unpriced.usage.cost == 0 and all(answers) and server.served == 8


def test_the_cache_key_is_the_model_not_the_deployment(tmp_path, fault_server):
    a, b, c = fault_server(), fault_server(), fault_server()
    cache = ResponseCache(tmp_path / "cache")
    first = ask_many(LM(cache=cache), pool_of(a, b), 10)
    again = ask_many(LM(cache=cache), pool_of(c), 10)
    plain = ask_many(LM(cache=cache), ModelConfig(name="openai/toy", api_base=c.url, api_key_env=KEY_ENV), 10)
    assert first == again == plain and c.requests == 0


def test_a_deployments_own_key_variable_is_used_and_never_shown(tmp_path, fault_server, monkeypatch):
    server = fault_server(auth_token="sk-deployment-key-0001")
    monkeypatch.setenv("OTHER_KEY", "sk-deployment-key-0001")
    model = ModelConfig(name="openai/toy", api_key_env=KEY_ENV,
                        deployments=[{"api_base": server.url, "api_key_env": "OTHER_KEY"}])
    assert ask_many(LM(), model, 1)[0]

    monkeypatch.setenv("OTHER_KEY", "sk-wrong-key-99999999")
    task = write_server_task(tmp_path, server, model={"api_base": None, "deployments": [
        {"api_base": server.url, "api_key_env": "OTHER_KEY"}]})
    result = optimize(task, "--no-cache", code=3)
    assert "AuthenticationError (HTTP 401)" in result.output and "sk-wrong-key" not in result.output
    assert KEY not in task.spec.read_text()


def test_a_missing_deployment_key_variable_is_exit_2_before_any_request(tmp_path, fault_server, monkeypatch):
    server = fault_server()
    task = write_server_task(tmp_path, server, model={"api_base": None, "deployments": [
        {"api_base": server.url}, {"api_base": server.url, "api_key_env": "NOT_SET_ANYWHERE"}]})
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    result = optimize(task, "--no-cache", code=2)
    assert result.output.strip() == "error: openai/toy: environment variable NOT_SET_ANYWHERE is not set"
    assert server.requests == 0


def test_deployment_fields_are_checked_like_the_rest_of_the_spec(tmp_path):
    spec = spec_dict(model={"name": "openai/toy", "deployments": [
        {"api_base": "http://gpu-1:8000/v1", "max_parallel": 16},
        {"api_base": "http://gpu-2:8000/v1", "max_paralel": 16}]})
    text = yaml.safe_dump(spec, sort_keys=False)
    path = tmp_path / "task.yaml"
    path.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "max_paralel" in row)
    with pytest.raises(InputError) as caught:
        load_spec(path)
    assert str(caught.value) == f"{path}:{line}: model.deployments.1.max_paralel: unknown field (check the spelling)"

    for bad, field in (({"api_base": "http://x/v1", "rpm": 0}, "model.deployments.0.rpm"),
                       ({"name": "openai/x"}, "model.deployments.0.api_base")):
        path.write_text(yaml.safe_dump(spec_dict(model={"name": "openai/toy", "deployments": [bad]})))
        with pytest.raises(InputError, match=field.replace(".", r"\.")):
            load_spec(path)
    path.write_text(yaml.safe_dump(spec_dict(model={"name": "openai/toy", "api_base": "http://x/v1",
                                                    "deployments": [{"api_base": "http://y/v1"}]})))
    with pytest.raises(InputError, match="either api_base or deployments"):
        load_spec(path)


def test_deployments_are_connection_settings_not_part_of_the_run(tmp_path):
    with_pool = ModelConfig(name="openai/toy", deployments=[{"api_base": "http://user:pw@gpu-1/v1"}])
    spec = load_spec_from(tmp_path, spec_dict(model=with_pool.model_dump(exclude_none=True)))
    alone = load_spec_from(tmp_path, spec_dict(model={"name": "openai/toy"}))
    assert spec.identity() == alone.identity()

    from opro_cli.artifact import public_spec

    assert "pw@" not in json.dumps(public_spec(spec))


def load_spec_from(tmp_path, raw):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_spec(path)


def test_deployments_with_tpm_go_through_usage_based_routing(fault_server):
    a, b = fault_server(), fault_server()
    model = ModelConfig(name="openai/toy", api_key_env=KEY_ENV, deployments=[
        {"api_base": a.url, "tpm": 100_000}, {"api_base": b.url, "tpm": 100_000}])
    lm = LM(concurrency=2)
    assert all(ask_many(lm, model, 12))
    assert a.requests + b.requests == 12 and min(a.requests, b.requests) > 0
