"""One evaluation's calls through a provider batch: submit the calls not answered yet, keep the batch ids in a
state file, wait with backoff (showing the status), read the results into the response cache, and submit a
follow-up batch for the failed requests when asked to. Stopping never cancels a batch: the same command run
again finds the state and picks the batch up where it is, with no second submission."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..spec import ModelConfig
from .batch import BatchClient, BatchStatus, Limits, Results, batch_cost, read_results, request_line, split_files
from .calls import LM

STATE_VERSION = 1


@dataclass
class BatchOptions:
    """How `--batch` runs: where the ids are kept, whether to wait, cancel, and how failed requests are retried."""

    state: Path | None = None
    wait: bool = True
    cancel: bool = False
    retry: str = "live"  # failed or expired requests: "live" calls, or a follow-up "batch"
    follow_ups: int = 2  # follow-up batches at most (with retry="batch"), then live calls
    poll: float = 2.0  # seconds before the first status poll; then x1.5 up to `poll_max`
    poll_max: float = 60.0
    limits: Limits | None = None  # per input file; default: the provider's


@dataclass
class BatchOutcome:
    """What the batch phase did, for the summary."""

    state: Path | None = None
    submitted: list[str] = field(default_factory=list)  # batch ids this run submitted
    resumed: list[str] = field(default_factory=list)  # batch ids found in the state file
    pending: list[BatchStatus] = field(default_factory=list)  # left running (--no-wait)
    cancelled: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    answered: int = 0
    failed: int = 0  # requests the batches reported failed or expired, or never answered
    malformed: int = 0  # result lines that could not be read
    batch_price: bool = False  # the cost was counted at litellm's batch price


@dataclass
class BatchPlan:
    """`--dry-run`: what the batch would send and cost, beside the same calls made live."""

    model: str
    examples: int
    cached: int
    requests: int
    files: int
    bytes: int
    prompt_tokens: int
    completion_tokens: int
    live_cost: float | None
    batch_cost: float | None
    batch_price: bool  # litellm has a batch price for the model (else the batch is priced as live)
    unavailable: str | None  # why --batch cannot be used for this model, if it cannot
    judge: BatchPlan | None = None  # a judged evaluation's second batch: the verdicts on the answers


@dataclass
class Waiting:
    """The status of the batches being waited for, for the live display."""

    statuses: list[BatchStatus]
    waited: float
    polled: bool = False  # just asked the provider (else only the time waited moved on)

    def text(self) -> str:
        parts = [f"{s.id} {s.status} {s.completed}/{s.total}" + (f" ({s.failed} failed)" if s.failed else "") for s in self.statuses]
        seconds = int(self.waited)
        return "batch " + "; ".join(parts) + f", waited {seconds // 60}m{seconds % 60:02d}s"


def fingerprint(model: str, keys: Any) -> str:
    """Names a set of requests: the same calls give the same state file by default, and a state is known to
    cover them."""
    digest = hashlib.sha256(model.encode())
    for key in sorted(keys):
        digest.update(key.encode())
    return digest.hexdigest()[:20]


class BatchRun:
    """The batch phase of one model's calls; `requests` maps cache key -> request body (without the model)."""

    def __init__(self, lm: LM, model: ModelConfig, options: BatchOptions, on_status: Callable[[Waiting], None] | None = None) -> None:
        self.lm, self.model, self.options = lm, model, options
        self.client = BatchClient(lm._litellm, model, lm.retry)  # a provider without a batch API fails here
        self.limits = options.limits or self.client.limits
        self.on_status = on_status or (lambda waiting: None)

    async def run(self, requests: dict[str, dict[str, Any]], state_path: Path) -> BatchOutcome:
        outcome = BatchOutcome(state=state_path)
        state = _load(state_path, self.model.name)
        wanted = fingerprint(self.model.name, requests)
        if self.options.cancel:
            for batch in state["batches"] if state else []:
                if not (await self.client.status(batch["id"])).final:
                    await self.client.cancel(batch["id"])
                outcome.cancelled.append(batch["id"])
            state_path.unlink(missing_ok=True)
            return outcome
        rounds = 0
        while True:
            if state is None:
                todo = {k: v for k, v in requests.items() if k not in self.lm.batch_answers}
                retrying = rounds > 0 and (self.options.retry != "batch" or rounds > self.options.follow_ups)
                if not todo or retrying:
                    break
                state = await self._submit(todo, state_path, outcome)
                rounds += 1
            else:  # found in the state file: a batch of these requests counts as the first round
                outcome.resumed.extend(b["id"] for b in state["batches"])
                rounds = 1 if state["covers"] == wanted else 0
            if not self.options.wait:
                outcome.pending = [await self.client.status(b["id"]) for b in state["batches"]]
                return outcome
            await self._collect(state, outcome)
            state_path.unlink(missing_ok=True)
            state = None
        outcome.failed = sum(k not in self.lm.batch_answers for k in requests)
        return outcome

    async def _submit(self, todo: dict[str, dict[str, Any]], path: Path, outcome: BatchOutcome) -> dict[str, Any]:
        """Upload the input files and create a batch for each; the state is written after every batch created,
        so a stop at any point loses no id."""
        lines = [request_line(key, {"model": self.client.name, **body}) for key, body in todo.items()]
        state: dict[str, Any] = {"version": STATE_VERSION, "model": self.model.name,
                                 "covers": fingerprint(self.model.name, todo), "batches": []}
        for index, data in enumerate(split_files(lines, self.limits)):
            file_id = await self.client.upload(data, f"opro-{state['covers']}-{index}.jsonl")
            batch = await self.client.submit(file_id)
            state["batches"].append({"id": batch.id, "input_file_id": file_id, "requests": data.count(b"\n"), "bytes": len(data)})
            _save(path, state)
            outcome.submitted.append(batch.id)
            outcome.files += 1
            outcome.bytes += len(data)
        self.lm.usage.batch_requests += len(lines)
        return state

    async def _collect(self, state: dict[str, Any], outcome: BatchOutcome) -> None:
        """Wait until every batch of the state is final (polling with backoff), then read its result files."""
        started = time.monotonic()
        delay = self.options.poll
        pending = {b["id"] for b in state["batches"]}
        statuses = {b["id"]: BatchStatus(b["id"], "submitted", total=b["requests"]) for b in state["batches"]}
        results = Results()
        while pending:
            for batch_id in sorted(pending):
                status = statuses[batch_id] = await self.client.status(batch_id)
                if status.final:
                    pending.discard(batch_id)
                    for file_id in (status.output_file_id, status.error_file_id):
                        if file_id:
                            read_results(await self.client.content(file_id), results)
            self.on_status(Waiting(list(statuses.values()), time.monotonic() - started, polled=True))
            if pending:
                until = time.monotonic() + delay
                while (left := until - time.monotonic()) > 0:  # the time waited shown every second
                    await asyncio.sleep(min(1.0, left))
                    self.on_status(Waiting(list(statuses.values()), time.monotonic() - started))
                delay = min(delay * 1.5, self.options.poll_max)
        self._ingest(results, outcome)

    def _ingest(self, results: Results, outcome: BatchOutcome) -> None:
        """The answers into the LM (scored from there as live ones are) and the response cache; tokens and cost
        counted now, at the batch price where litellm knows it."""
        prompt = completion = 0
        for key, answer in results.answers.items():
            if key in self.lm.batch_answers:
                continue
            self.lm.batch_answers[key] = answer
            if self.lm.cache is not None:
                self.lm.cache.put(key, answer)
            prompt += answer["prompt_tokens"]
            completion += answer["completion_tokens"]
            outcome.answered += 1
        cost, outcome.batch_price = batch_cost(self.lm._litellm, self.model.name, prompt, completion)
        usage = self.lm.usage
        usage.prompt_tokens += prompt
        usage.completion_tokens += completion
        usage.cost += cost
        outcome.malformed += results.malformed


def _load(path: Path, model: str) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the batch state: {exc.strerror}") from None
    try:
        state = json.loads(text)
        if state.get("version") != STATE_VERSION or not isinstance(state.get("batches"), list):
            raise ValueError("not a batch state of this version")
        for batch in state["batches"]:
            if not isinstance(batch.get("id"), str) or not isinstance(batch.get("requests"), int):
                raise ValueError("a batch without an id")
    except (ValueError, AttributeError) as exc:
        raise InputError(f"{path}: batch state unreadable ({exc}); delete it to submit again") from None
    if state.get("model") != model:
        raise InputError(f"{path}: model: the batch state is for {state.get('model')!r}, not {model!r}; "
                         "use another --batch-state or delete it")
    return state


def _save(path: Path, state: dict[str, Any]) -> None:
    """Atomically, readable by its owner only; ids and counts only (never a key or an endpoint)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(state, out, indent=1)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
