"""A provider's batch API through litellm (`acreate_file`, `acreate_batch`, `aretrieve_batch`, `afile_content`,
`acancel_batch`): the input files a set of calls makes, the requests to upload, submit, poll and cancel, and
the reading of the result files. About half the price of live calls, under the provider's own limits; the
answers take minutes to hours, so this is for large evaluations that are not urgent.

Each line's `custom_id` is the call's cache key: the answers go straight into the response cache, duplicates
are sent once, and nothing else (no key, no endpoint) is in a file or a state.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from ..spec import ModelConfig
from .accounting import RetryPolicy
from .provider_errors import describe, is_transient, refusal
from .routing import key_from_env

ENDPOINT = "/v1/chat/completions"
FINAL = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass(frozen=True)
class Limits:
    """What one batch input file may hold, as the provider documents it."""

    requests: int
    bytes: int


# The providers whose batch API takes OpenAI-shaped JSONL through litellm's files and batches functions.
PROVIDERS: dict[str, Limits] = {
    "openai": Limits(50_000, 200 * 1024 * 1024),
    "azure": Limits(100_000, 200 * 1024 * 1024),
    "hosted_vllm": Limits(50_000, 200 * 1024 * 1024),
    "litellm_proxy": Limits(50_000, 200 * 1024 * 1024),
}


def batch_provider(litellm: Any, model: ModelConfig) -> tuple[str, str]:
    """(provider, the model's name at that provider), or an InputError naming the model when `--batch` cannot
    work for it: found before anything is uploaded."""
    if model.deployments:
        raise InputError(f"{model.name}: --batch sends to one endpoint; a model with `deployments` cannot use it")
    try:
        name, provider, _, _ = litellm.get_llm_provider(model=model.name, api_base=model.api_base)
    except Exception as exc:  # noqa: BLE001 - litellm raises several classes for an unknown provider
        raise InputError(f"{model.name}: --batch: unknown provider ({describe(exc)})") from None
    if provider not in PROVIDERS:
        supported = ", ".join(f"{p}/" for p in PROVIDERS)
        raise InputError(f"{model.name}: provider {provider!r} has no batch API opro-cli can use (--batch works with {supported} models)")
    return provider, name


def request_line(custom_id: str, body: dict[str, Any]) -> bytes:
    """One line of a batch input file."""
    line = {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def split_files(lines: list[bytes], limits: Limits) -> list[bytes]:
    """The lines as few input files as the provider's limits on requests and bytes per file allow."""
    files: list[bytes] = []
    chunk: list[bytes] = []
    size = 0
    for line in lines:
        if chunk and (len(chunk) >= limits.requests or size + len(line) > limits.bytes):
            files.append(b"".join(chunk))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line)
    if chunk:
        files.append(b"".join(chunk))
    return files


@dataclass
class BatchStatus:
    """A batch as the provider reports it."""

    id: str
    status: str
    total: int = 0
    completed: int = 0
    failed: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: str = ""

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @classmethod
    def of(cls, batch: Any) -> BatchStatus:
        counts = getattr(batch, "request_counts", None)
        errors = getattr(getattr(batch, "errors", None), "data", None) or []
        return cls(
            id=str(batch.id),
            status=str(batch.status),
            total=int(getattr(counts, "total", 0) or 0),
            completed=int(getattr(counts, "completed", 0) or 0),
            failed=int(getattr(counts, "failed", 0) or 0),
            output_file_id=getattr(batch, "output_file_id", None),
            error_file_id=getattr(batch, "error_file_id", None),
            errors="; ".join(str(getattr(e, "message", e)) for e in errors[:3]),
        )


@dataclass
class Results:
    """What a batch's result files said: answers by custom_id, the ids that failed, and unreadable lines."""

    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    malformed: int = 0


def read_results(data: bytes, results: Results) -> None:
    """Add an output or error file's lines to `results`. A line that is not a readable answer counts as
    malformed (its request, if named, as failed): it is asked again, never scored as an empty answer."""
    for raw in data.splitlines():
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
            custom_id = line["custom_id"]
        except (ValueError, KeyError, TypeError):
            results.malformed += 1
            continue
        response = line.get("response") or {}
        body = response.get("body") if isinstance(response, dict) else None
        try:
            if line.get("error") or response.get("status_code") != 200:
                raise ValueError("failed")
            message = body["choices"][0]["message"]
            text = message.get("content")
            usage = body.get("usage") or {}
            results.answers[custom_id] = {
                "text": text if isinstance(text, str) else "",
                "prompt_tokens": int(usage.get("prompt_tokens") or 0),
                "completion_tokens": int(usage.get("completion_tokens") or 0),
            }
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            if not line.get("error") and response.get("status_code") == 200:
                results.malformed += 1
            results.failed.add(str(custom_id))


def batch_cost(litellm: Any, model: str, prompt_tokens: int, completion_tokens: int) -> tuple[float, bool]:
    """(cost, at the batch price): litellm's batch prices where its map has them, else the live price; 0 for a
    model it has no price for."""
    try:
        info = litellm.get_model_info(model=model)
        per_in, per_out = info.get("input_cost_per_token_batches"), info.get("output_cost_per_token_batches")
        if per_in is not None and per_out is not None:
            return prompt_tokens * per_in + completion_tokens * per_out, True
        return float(sum(litellm.cost_per_token(model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens))), False
    except Exception:  # noqa: BLE001 - unmapped models
        return 0.0, False


class BatchClient:
    """The files and batches calls for one model's endpoint, each retried on transient errors like a live call."""

    def __init__(self, litellm: Any, model: ModelConfig, retry: RetryPolicy) -> None:
        self.litellm = litellm
        self.model = model
        self.retry = retry
        self.provider, self.name = batch_provider(litellm, model)
        self.limits = PROVIDERS[self.provider]
        self._jitter = random.Random()

    def _connection(self) -> dict[str, Any]:
        """Where the batch goes; the key is read here, never stored."""
        out: dict[str, Any] = {"custom_llm_provider": self.provider, "timeout": max(self.model.timeout, 120.0), "max_retries": 0}
        if self.model.api_base:
            out["api_base"] = self.model.api_base
        if self.model.api_version:
            out["api_version"] = self.model.api_version
        if self.model.api_key_env:
            out["api_key"] = key_from_env(self.model.name, self.model.api_key_env)
        return out

    async def upload(self, data: bytes, name: str) -> str:
        created = await self._call(self.litellm.acreate_file, file=(name, data, "application/jsonl"), purpose="batch")
        return str(created.id)

    async def submit(self, file_id: str) -> BatchStatus:
        batch = await self._call(self.litellm.acreate_batch, completion_window="24h", endpoint=ENDPOINT, input_file_id=file_id)
        return BatchStatus.of(batch)

    async def status(self, batch_id: str) -> BatchStatus:
        return BatchStatus.of(await self._call(self.litellm.aretrieve_batch, batch_id=batch_id))

    async def cancel(self, batch_id: str) -> BatchStatus:
        return BatchStatus.of(await self._call(self.litellm.acancel_batch, batch_id=batch_id))

    async def content(self, file_id: str) -> bytes:
        response = await self._call(self.litellm.afile_content, file_id=file_id)
        return bytes(response.content if hasattr(response, "content") else response)

    async def _call(self, function: Any, **kwargs: Any) -> Any:
        for attempt in range(self.retry.attempts):
            try:
                return await function(**kwargs, **self._connection())
            except Exception as exc:  # noqa: BLE001 - classified as a live call's errors are
                if not is_transient(self.litellm, exc):
                    raise refusal(self.model, exc) from None
                if attempt + 1 == self.retry.attempts:
                    raise refusal(self.model, exc) from None
                ceiling = min(self.retry.max_delay, self.retry.base_delay * 2**attempt)
                await asyncio.sleep(self._jitter.uniform(ceiling / 2, ceiling))
        raise AssertionError("unreachable")
