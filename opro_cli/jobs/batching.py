"""`opro eval --batch` and `opro compare --batch`: the calls an evaluation will make, asked through the model
provider's batch API before the evaluation runs (`lm.batch_run`). The evaluation itself then runs as always and
finds every answer the batch returned, so batch answers are parsed and scored exactly as live ones; what the
batch did not answer is called live (or sent in a follow-up batch). With a `judge` reward, the judge's calls for
the answers then known go in a second batch (its own state file, resumed the same way); the evaluation finds
those too.

`--dry-run` lands here too: the planned batch (requests, files, bytes) and its cost beside the live cost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import event_loop
from ..artifact import Artifact
from ..data import DataSummary
from ..errors import InputError
from ..lm import LM
from ..lm.batch import Limits, batch_cost, batch_provider, request_line, split_files
from ..lm.batch_run import BatchOptions, BatchOutcome, BatchPlan, BatchRun, Waiting, fingerprint
from ..lm.cache import default_cache_dir
from ..lm.cache import call_key
from ..scoring.judge import JudgeRequest
from ..scoring.prompt import Prompt
from ..scoring.runner import TaskRunner
from ..spec import JudgeReward, ModelConfig
from .comparing import CompareJob
from .evaluating import examples_of, prompt_runner, seed_prompt

TOKEN_SAMPLE = 200  # requests whose tokens are counted for a dry run; the rest are scaled by their size
VERDICT_TOKENS = 60  # a judge's reply, about: a reason of one or two sentences, then the score


@dataclass
class PromptRun:
    """One prompt over one data file, as the evaluation will run it."""

    runner: TaskRunner
    prompt: Prompt
    data: DataSummary


def eval_runs(artifact: Artifact, data: DataSummary, model: str | None, lm: LM, baseline: bool) -> list[PromptRun]:
    """What `opro eval` will ask: the artifact's prompt, and the seed prompt too with `--baseline`."""
    spec = artifact.task_spec()
    runs = [PromptRun(prompt_runner(spec, data, artifact, model, lm), artifact.prompt, data)]
    if baseline:
        runs.append(PromptRun(prompt_runner(spec, data, artifact, model, lm, seed_format=True), seed_prompt(artifact), data))
    return runs


def predict_runs(artifact: Artifact, data: DataSummary, lm: LM) -> list[PromptRun]:
    """What `opro predict` will ask: the artifact's prompt over rows that need not hold an answer."""
    return [PromptRun(prompt_runner(artifact.task_spec(), data, artifact, None, lm), artifact.prompt, data)]


def compare_runs(job: CompareJob) -> list[PromptRun]:
    """What `opro compare` will ask: both prompts, each with its own spec and answer format."""
    return [
        PromptRun(prompt_runner(art.task_spec(), data, art, job.model, job.lm), art.prompt, data)
        for art, data in ((job.a, job.data[0]), (job.b, job.data[1]))
    ]


def pending_requests(lm: LM, runs: list[PromptRun]) -> tuple[Any, dict[str, dict[str, Any]], int, int]:
    """(model, {cache key: request body} of the calls no cache answers, examples, cached): duplicates once."""
    models = {run.runner.model.name for run in runs}
    if len(models) > 1:
        raise InputError(f"--batch: the prompts use different models ({', '.join(sorted(models))}); give one with --model")
    requests: dict[str, dict[str, Any]] = {}
    examples = cached = 0
    for run in runs:
        for example in examples_of(run.data, run.runner.spec):
            call = run.runner.request(run.prompt, example)
            key, params = call_key(run.runner.model, call.messages, response_format=call.response_format, temperature=call.temperature)
            examples += 1
            if key in requests or key in lm.batch_answers:
                continue
            if lm.cache is not None and lm.cache.get(key) is not None:
                cached += 1
                continue
            requests[key] = {"messages": call.messages, **params}
    return runs[0].runner.model, requests, examples, cached


def state_path(options: BatchOptions, model: str, requests: dict[str, Any], cache_dir: Path | None) -> Path:
    """Where the batch ids are kept: `--batch-state`, else (set by the CLI) next to the first `-o`, else in the
    cache directory under a name made from the requests, so the same command finds it again."""
    if options.state is not None:
        return options.state
    return (cache_dir or default_cache_dir()) / "batches" / f"{fingerprint(model, requests)}.json"


def run_batch(
    lm: LM,
    runs: list[PromptRun],
    options: BatchOptions,
    cache_dir: Path | None = None,
    on_status: Callable[[Waiting], None] | None = None,
) -> BatchOutcome:
    """The batch phase: submit (or resume, or cancel) and, unless `options.wait` is off, wait and read the answers
    into `lm`. A Ctrl-C stops the waiting, never the batch, and says how to pick it up again."""
    model, requests, _, _ = pending_requests(lm, runs)
    batch = BatchRun(lm, model, options, on_status)  # a provider without a batch API: one line, exit 2, now
    path = state_path(options, model.name, requests, cache_dir)
    try:
        outcome = event_loop.run(batch.run(requests, path))
        if options.cancel or outcome.pending:
            return outcome
        # A judged reward: a second batch of the judge's calls, now that the answers are in (resumable the same way).
        judge, asked = judge_requests(lm, runs)
        if judge is None or not asked:
            return outcome
        path = state_path(replace(options, state=_judge_state(options.state)), judge.name, asked, cache_dir)
        judged = event_loop.run(BatchRun(lm, judge, options, on_status).run(asked, path))
        return merged(outcome, judged)
    except KeyboardInterrupt:
        if path.exists():
            raise KeyboardInterrupt(
                f"the batch keeps running at the provider (state in {path}); run the same command again to collect "
                "it, or again with --batch-cancel to cancel it"
            ) from None
        raise


def judge_requests(lm: LM, runs: list[PromptRun]) -> tuple[ModelConfig | None, dict[str, dict[str, Any]]]:
    """(the judge's model, {cache key: request body}) of the judge calls for the answers known now (from the batch
    or the cache) that no cache answers. A reward judged per field, or an unparseable answer, is judged live."""
    requests: dict[str, dict[str, Any]] = {}
    judge_model = None
    for asked, key, params, _ in _verdict_calls(lm, runs, unknown_answers=False):
        if judge_model is not None and asked.model.name != judge_model.name:
            continue  # two judges (compare): the second's calls go live
        judge_model = asked.model
        if key in requests or key in lm.batch_answers or _cached(lm, key):
            continue
        requests[key] = {"messages": asked.messages, **params}
    return judge_model, requests


def _verdict_calls(lm: LM, runs: list[PromptRun], unknown_answers: bool) -> Iterator[tuple[JudgeRequest, str, dict[str, Any], bool]]:
    """Each judge call of the runs judged as a whole: (the request, its cache key and params, whether the answer it
    judges is known). An answer not known yet is left out, or with `unknown_answers` stood in for by its
    example's expected value (about as long: enough to size a dry run); an unreadable one scores 0 unjudged."""
    for run in runs:
        runner, reward = run.runner, run.runner.spec.reward
        if not isinstance(reward, JudgeReward) or run.data.inputs_only:
            continue
        for example in examples_of(run.data, runner.spec):
            call = runner.request(run.prompt, example)
            key, _ = call_key(runner.model, call.messages, response_format=call.response_format, temperature=call.temperature)
            found = lm.batch_answers.get(key) or (lm.cache.get(key) if lm.cache is not None else None)
            if found is None and not unknown_answers:
                continue
            expected = runner.fmt.expected_text(example.expected)
            answer = runner.fmt.parse(found["text"]).answer if found is not None else expected
            if answer is None:
                continue
            asked = runner.judge.request(reward, example.inputs, answer, expected)
            key, params = call_key(asked.model, asked.messages, response_format=asked.response_format,
                                   temperature=asked.temperature)
            yield asked, key, params, found is not None


def _cached(lm: LM, key: str) -> bool:
    return lm.cache is not None and lm.cache.get(key) is not None


def _judge_state(state: Path | None) -> Path | None:
    """The judge batch's state file beside `--batch-state`'s (None: named after its requests in the cache)."""
    return state.with_name(f"{state.stem}.judge{state.suffix}") if state is not None else None


def merged(first: BatchOutcome, judge: BatchOutcome) -> BatchOutcome:
    """The two batches' outcome as one, for the summary (the state file is the first's)."""
    return BatchOutcome(
        state=first.state, submitted=first.submitted + judge.submitted, resumed=first.resumed + judge.resumed,
        pending=first.pending + judge.pending, cancelled=first.cancelled + judge.cancelled,
        files=first.files + judge.files, bytes=first.bytes + judge.bytes, answered=first.answered + judge.answered,
        failed=first.failed + judge.failed, malformed=first.malformed + judge.malformed,
        batch_price=first.batch_price or judge.batch_price,
    )


def plan_batch(lm: LM, runs: list[PromptRun], limits: Limits | None = None) -> BatchPlan:
    """The batch an evaluation would submit, priced both ways, and with a `judge` reward the judge's batch that
    follows it; nothing is sent."""
    model, requests, examples, cached = pending_requests(lm, runs)
    prompt_tokens, completion_tokens = _tokens(lm._litellm, model, list(requests.values()), runs)
    plan = _priced_plan(lm, model, requests, examples, cached, prompt_tokens, completion_tokens, limits)
    judge = plan_judge_batch(lm, runs, limits)
    return replace(plan, judge=judge) if judge is not None else plan


def plan_judge_batch(lm: LM, runs: list[PromptRun], limits: Limits | None = None) -> BatchPlan | None:
    """The judge's batch of a judged evaluation: a verdict for every answer the cache holds none for (an answer
    not known yet sized by its expected value); None when nothing is judged as a whole (rule rewards, a judge per
    field, unlabelled rows)."""
    judge_model, requests, examples, cached = None, {}, 0, 0
    for asked, key, params, known in _verdict_calls(lm, runs, unknown_answers=True):
        judge_model = judge_model or asked.model
        examples += 1
        if key in requests:
            continue
        if known and _cached(lm, key):
            cached += 1
            continue
        requests[key] = {"messages": asked.messages, **params}
    if judge_model is None:
        return None
    prompt_tokens = sum(lm._litellm.token_counter(model=judge_model.name, messages=body["messages"])
                        for body in requests.values())
    return _priced_plan(lm, judge_model, requests, examples, cached, prompt_tokens, VERDICT_TOKENS * len(requests), limits)


def _priced_plan(lm: LM, model: ModelConfig, requests: dict[str, dict[str, Any]], examples: int, cached: int,
                 prompt_tokens: int, completion_tokens: int, limits: Limits | None) -> BatchPlan:
    """One batch's files and its price, live and as a batch."""
    litellm = lm._litellm
    unavailable, name = None, model.name
    try:
        provider, name = batch_provider(litellm, model)
        from ..lm.batch import PROVIDERS

        limits = limits or PROVIDERS[provider]
    except InputError as exc:
        unavailable = str(exc)
        limits = limits or Limits(50_000, 200 * 1024 * 1024)
    lines = [request_line(key, {"model": name, **body}) for key, body in requests.items()]
    files = split_files(lines, limits)
    try:
        live: float | None = float(sum(litellm.cost_per_token(model=model.name, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)))
    except Exception:  # noqa: BLE001 - no price in litellm's map
        live = 0.0 if model.name.startswith(("local/", "toy/")) else None
    cost, known = batch_cost(litellm, model.name, prompt_tokens, completion_tokens)
    return BatchPlan(model.name, examples, cached, len(requests), len(files), sum(map(len, files)), prompt_tokens,
                     completion_tokens, live, cost if live is not None else None, known, unavailable)


def _tokens(litellm: Any, model: Any, bodies: list[dict[str, Any]], runs: list[PromptRun]) -> tuple[int, int]:
    """Prompt tokens counted on a sample and scaled by size; completion tokens about an expected answer's."""
    if not bodies:
        return 0, 0
    step = max(1, len(bodies) // TOKEN_SAMPLE)
    sample = bodies[::step]
    counted = sum(litellm.token_counter(model=model.name, messages=body["messages"]) for body in sample)
    size = lambda body: sum(len(m["content"]) for m in body["messages"])  # noqa: E731
    sampled_size = sum(map(size, sample)) or 1
    prompt = round(counted * sum(map(size, bodies)) / sampled_size)
    fmt = runs[0].runner.fmt
    answers = runs[0].data.answers if not runs[0].data.inputs_only else fmt.choices  # unlabelled rows: the labels
    expected = [fmt.expected_text(e) for e in sorted(answers)] or [""]
    per_answer = max(litellm.token_counter(model=model.name, text=text) for text in expected) + (8 if fmt.structured else 0)
    return prompt, per_answer * len(bodies)
