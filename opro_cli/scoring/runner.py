"""Run a prompt over examples and score every answer: shared by training, validation, `eval` and `compare`."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, TypeVar

from ..data import Example
from ..lm import LM
from ..spec import ModelConfig, TaskSpec
from .answers import AnswerFormat
from .judge import Judge
from .prediction import Prediction, Verdict
from .prompt import Prompt, render_messages
from .rewards import Scorer
from .values import Parsed

T = TypeVar("T")


def structured_output_supported(model: ModelConfig) -> bool:
    """Whether the provider constrains output by JSON schema; the embedded model does (llama.cpp grammar)."""
    if model.name.startswith("local/"):
        return True
    import litellm

    try:
        return bool(litellm.supports_response_schema(model=model.name))
    except Exception:  # noqa: BLE001 - unknown models: assume no support, use the prompt + tolerant parser
        return False


def output_modes(spec: TaskSpec, fmt: AnswerFormat) -> tuple[bool, ...]:
    """The ways of asking for the answer the optimiser may choose between, the resolved one first.

    With `structured: auto` on a model that supports schemas, both are tried: on small models a schema can
    cost accuracy once shots are in the prompt (measured on SmolLM2: topic 67 % with shots as text, 40 % as
    JSON), and on others it wins; the validation score decides, not an assumption.
    """
    if spec.answer.structured == "auto" and fmt.structured and not fmt.fields:
        return (True, False)
    return (fmt.structured,)


def resolve_format(spec: TaskSpec, model: ModelConfig, training_answers: list[str] | None = None) -> AnswerFormat:
    """The AnswerSpec made concrete for this model (schema or not) and data (inferred label set)."""
    mode = spec.answer.structured
    wants_schema = spec.answer.type != "text" or bool(spec.answer.fields) or spec.prompt.several
    structured = mode == "always" or (mode == "auto" and wants_schema and structured_output_supported(model))
    outputs = spec.prompt.output_fields if spec.prompt.several else None
    return AnswerFormat.resolve(spec.answer, structured, training_answers, outputs)


@dataclass(frozen=True)
class CallRequest:
    """One example's call: the rendered messages and the params that go with them."""

    messages: list[dict[str, str]]
    response_format: dict[str, Any] | None
    temperature: float


@dataclass
class TaskRunner:
    """One task on one model: renders prompts, calls the LM, parses and scores answers."""

    spec: TaskSpec
    model: ModelConfig
    fmt: AnswerFormat
    lm: LM

    @cached_property
    def judge(self) -> Judge:
        """A `judge` reward's model calls; built on first use, as the scorer."""
        return Judge(self.lm, self.spec.proposer, self.spec.prompt.input, structured_output_supported)

    @cached_property
    def scorer(self) -> Scorer:
        """Built on the first score, so answering without scoring (`opro predict`, `load_prompt`) never loads
        a `python` reward's file."""
        return Scorer(self.spec.reward, several=bool(self.fmt.outputs), judge=self.judge)

    async def predict(
        self,
        prompt: Prompt,
        examples: list[Example],
        on_done: Callable[[Prediction], None] | None = None,
        structured: bool | None = None,
    ) -> list[Prediction]:
        """Run and score; `structured` overrides the run's choice of schema vs prompt-stated format."""
        fmt = self.fmt if structured is None else replace(self.fmt, structured=structured)

        async def one(example: Example) -> Prediction:
            prediction = await self.predict_one(prompt, example, fmt)
            if on_done:
                on_done(prediction)
            return prediction

        return await gather_all(one(example) for example in examples)

    async def predict_in_order(
        self, prompt: Prompt, examples: Iterable[Example], ahead: int
    ) -> AsyncIterator[tuple[Example, Prediction]]:
        """Run examples as they are read and hand the scored results on in data order (see `in_order`)."""
        async for pair in in_order(examples, lambda example: self.predict_one(prompt, example), ahead):
            yield pair

    def request(self, prompt: Prompt, example: Example, fmt: AnswerFormat | None = None) -> CallRequest:
        """What is asked of the model for one example; the live call and a batch's line are built from it."""
        fmt = fmt or self.fmt
        messages = render_messages(prompt, example.inputs, self.spec.prompt.input, fmt)
        temperature = self.model.temperature if self.model.temperature is not None else 0.0
        return CallRequest(messages, fmt.response_format(), temperature)

    def score(self, example: Example, text: str, fmt: AnswerFormat | None = None) -> Prediction:
        """An answer's text parsed and rewarded, the same whether it came live, from the cache or from a batch.
        A rule reward only: a `judge` reward needs its model call (`assess`)."""
        fmt = fmt or self.fmt
        parsed = fmt.parse(text)
        verdict = self.scorer.verdict(parsed.answer, fmt.expected_text(example.expected), example)
        return self._prediction(example, text, parsed, verdict)

    async def assess(self, example: Example, text: str, fmt: AnswerFormat | None = None) -> Prediction:
        """As `score`, for any reward: a judge's verdict is awaited through the LM (cached like any call)."""
        fmt = fmt or self.fmt
        parsed = fmt.parse(text)
        verdict = await self.scorer.grade(parsed.answer, fmt.expected_text(example.expected), example)
        return self._prediction(example, text, parsed, verdict)

    @staticmethod
    def _prediction(example: Example, text: str, parsed: Parsed, verdict: Verdict) -> Prediction:
        return Prediction(
            inputs=example.inputs,
            expected=example.expected,
            raw=text,
            answer=parsed.answer,
            fields=parsed.fields,
            reward=verdict.score,
            error=parsed.error,
            reason=verdict.reason,
            unreadable_verdict=verdict.unreadable,
        )

    async def reply(self, prompt: Prompt, example: Example, fmt: AnswerFormat | None = None) -> str:
        """The model's text for one example, unparsed: the call `eval` makes, whoever asks."""
        request = self.request(prompt, example, fmt)
        completion = await self.lm.complete(
            self.model, request.messages, response_format=request.response_format, temperature=request.temperature
        )
        return completion.text

    async def predict_one(self, prompt: Prompt, example: Example, fmt: AnswerFormat | None = None) -> Prediction:
        fmt = fmt or self.fmt
        return await self.assess(example, await self.reply(prompt, example, fmt), fmt)


async def in_order(
    examples: Iterable[Example], work: Callable[[Example], Awaitable[T]], ahead: int
) -> AsyncIterator[tuple[Example, T]]:
    """`work` on examples as they are read, at most `ahead` started and not yet handed on, the results handed on
    in data order: memory stays flat however long the data, and results can be written as they come. (The LM
    bounds the calls actually in flight; `ahead` only keeps it fed.)"""
    pending: deque[tuple[Example, asyncio.Task[T]]] = deque()
    try:
        for example in examples:
            pending.append((example, asyncio.ensure_future(work(example))))
            if len(pending) >= ahead:
                done, task = pending.popleft()
                yield done, await task
        while pending:
            done, task = pending.popleft()
            yield done, await task
    finally:
        for _, task in pending:
            task.cancel()
        await asyncio.gather(*(task for _, task in pending), return_exceptions=True)


def mean_reward(predictions: list[Prediction]) -> float:
    return sum(p.reward for p in predictions) / len(predictions) if predictions else 0.0


async def gather_all(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """Like asyncio.gather, but the first failure cancels the rest (a budget or provider stop is final)."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
