"""The response cache: an identical re-run costs no provider call and gives the same artifact; the cache is
private to its owner and never holds a key; its location follows the flags and the environment."""

from __future__ import annotations

import os
import stat
import time

import pytest

from opro_cli.artifact import load_artifact
from opro_cli.lm.cache import ResponseCache, cache_key, default_cache_dir
from server_task import KEY, optimize, same_result, use_server_env, write_server_task

MESSAGES = [{"role": "user", "content": "Review: good fun"}]


@pytest.fixture(autouse=True)
def env(monkeypatch):
    use_server_env(monkeypatch)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_second_identical_run_makes_no_upstream_call_and_gives_the_same_artifact(tmp_path, fault_server):
    server = fault_server(auth_token=KEY)
    task = write_server_task(tmp_path, server)
    cache_dir = tmp_path / "cache"
    optimize(task, "--cache-dir", cache_dir, "-o", tmp_path / "cold.json")
    cold = load_artifact(tmp_path / "cold.json")
    assert server.served == cold.run.usage["calls"] > 0

    server.reset_counters()
    optimize(task, "--cache-dir", cache_dir, "-o", tmp_path / "warm.json")
    warm = load_artifact(tmp_path / "warm.json")
    assert server.requests == 0
    assert warm.run.usage["calls"] == 0 and warm.run.usage["cached_calls"] == cold.run.usage["calls"]
    assert same_result(cold, warm)

    assert mode(cache_dir) == 0o700
    files = list(cache_dir.iterdir())
    assert files and all(mode(path) == 0o600 for path in files), {p.name: oct(mode(p)) for p in files}
    assert all(KEY.encode() not in path.read_bytes() for path in files)
    assert all(b"127.0.0.1" not in path.read_bytes() for path in files)  # nor the endpoint


def test_no_cache_writes_nothing_and_calls_again(tmp_path, fault_server):
    server = fault_server()
    task = write_server_task(tmp_path, server)
    optimize(task, "--no-cache", "--cache-dir", tmp_path / "cache")
    first = server.requests
    optimize(task, "--no-cache", "--cache-dir", tmp_path / "cache")
    assert server.requests == 2 * first
    assert not (tmp_path / "cache").exists()


def test_default_location_follows_the_environment(tmp_path, fault_server, monkeypatch):
    monkeypatch.delenv("OPRO_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "opro-cli"
    monkeypatch.setenv("OPRO_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"

    server = fault_server()
    task = write_server_task(tmp_path, server)
    optimize(task)
    assert (tmp_path / "mine" / "responses.sqlite3").exists() and not (tmp_path / "xdg").exists()


def test_key_ignores_where_and_how_the_model_is_reached_but_not_what_is_asked():
    base = cache_key("openai/toy", MESSAGES, {"temperature": 0})
    assert base == cache_key("openai/toy", [dict(m) for m in MESSAGES], {"temperature": 0})
    assert base != cache_key("openai/other", MESSAGES, {"temperature": 0})
    assert base != cache_key("openai/toy", [{"role": "user", "content": "Review: dull"}], {"temperature": 0})
    assert base != cache_key("openai/toy", MESSAGES, {"temperature": 1})
    assert base != cache_key("openai/toy", MESSAGES, {"temperature": 0, "seed": 1})


def test_a_world_readable_cache_file_is_made_private(tmp_path):
    directory = tmp_path / "cache"
    ResponseCache(directory).close()
    os.chmod(directory / "responses.sqlite3", 0o644)
    cache = ResponseCache(directory)
    assert mode(directory / "responses.sqlite3") == 0o600
    cache.put("k", {"text": "positive", "prompt_tokens": 1, "completion_tokens": 1})
    assert cache.get("k")["text"] == "positive" and cache.get("other") is None


def test_a_corrupt_cache_is_one_line_exit_2(tmp_path, fault_server):
    server = fault_server()
    task = write_server_task(tmp_path, server)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "responses.sqlite3").write_bytes(b"this is not a database" * 100)
    result = optimize(task, "--cache-dir", tmp_path / "cache", code=2)
    assert len(result.output.strip().splitlines()) == 1
    assert "cannot use the response cache" in result.output and "--no-cache" in result.output
    assert server.requests == 0


def test_two_processes_can_share_one_cache(tmp_path):
    first, second = ResponseCache(tmp_path), ResponseCache(tmp_path)
    first.put("k", {"text": "a", "prompt_tokens": 0, "completion_tokens": 0})
    assert second.get("k") == {"text": "a", "prompt_tokens": 0, "completion_tokens": 0}
    first.close(), second.close()


def test_warm_run_is_faster_than_cold(tmp_path, fault_server):
    server = fault_server(latency=0.01)
    task = write_server_task(tmp_path, server)
    started = time.perf_counter()
    optimize(task, "--cache-dir", tmp_path / "cache", "-j", "1")
    cold = time.perf_counter() - started
    started = time.perf_counter()
    optimize(task, "--cache-dir", tmp_path / "cache", "-j", "1")
    warm = time.perf_counter() - started
    assert warm < cold / 2, (cold, warm)


def test_answers_are_stored_together_and_all_on_disk_once_the_calls_end(tmp_path, fault_server, monkeypatch):
    """The LM stores answers a batch at a time (one transaction, not one per answer); another process sees
    every one once the LM has no call left in flight, and its own lookups see them at once."""
    import asyncio

    from opro_cli.lm import LM, RetryPolicy
    from opro_cli.spec import ModelConfig
    from server_task import KEY_ENV

    monkeypatch.setenv(KEY_ENV, KEY)
    server = fault_server(latency=0.01)
    model = ModelConfig(name="openai/toy", api_base=server.url, api_key_env=KEY_ENV, timeout=5.0)
    lm = LM(cache=ResponseCache(tmp_path), concurrency=4, retry=RetryPolicy(attempts=2, base_delay=0.01))
    other = ResponseCache(tmp_path)
    reviews = [[{"role": "user", "content": f"Review: number {i} was fine"}] for i in range(12)]
    seen_meanwhile = []

    async def run() -> None:
        async def one(messages):
            await lm.complete(model, messages)
            seen_meanwhile.append(lm.cache.get(cache_key("openai/toy", messages, model.answer_params())))

        await asyncio.gather(*(one(m) for m in reviews))

    asyncio.run(run())
    assert all(hit is not None for hit in seen_meanwhile) and server.requests == 12
    stored = [other.get(cache_key("openai/toy", m, model.answer_params())) for m in reviews]
    assert all(hit is not None and hit["text"] for hit in stored)
    assert other._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 12
    lm.cache.close(), other.close()


def test_an_answer_held_for_later_is_stored_on_close(tmp_path):
    cache = ResponseCache(tmp_path)
    cache.put_soon("k", {"text": "a", "prompt_tokens": 0, "completion_tokens": 0})
    assert cache.get("k") == {"text": "a", "prompt_tokens": 0, "completion_tokens": 0}
    cache.close()
    assert ResponseCache(tmp_path).get("k") == {"text": "a", "prompt_tokens": 0, "completion_tokens": 0}
