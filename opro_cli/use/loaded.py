"""`load_prompt`: an artifact's prompt as an application uses it, built by the code that scored it.

`opro eval` asks each example through `TaskRunner.request` (messages, schema, temperature), sends it through
`LM.complete` (which adds the model's answer-changing params, `lm.cache.call_key`) and reads the reply with
`AnswerFormat.parse`. A `LoadedPrompt` calls exactly those, so an app sends the request that was measured and
reads the answer as it was scored. Loading is cheap: litellm is imported on the first call, not before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..artifact import Artifact, load_artifact
from ..data import Example, row_inputs
from ..scoring.answers import AnswerFormat
from ..scoring.prompt import Prompt
from ..scoring.runner import CallRequest, TaskRunner
from ..spec import ModelConfig, TaskSpec

if TYPE_CHECKING:
    from ..lm import LM


@dataclass(frozen=True)
class Reading:
    """A reply read as `eval` reads it: the typed answer (None when unreadable, with the reason in `error`),
    any extra JSON fields the format asks for (say, reasoning), and the model's text."""

    answer: Any
    error: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    text: str = ""


class LoadedPrompt:
    """An artifact's best prompt on the model and answer format it was scored with."""

    def __init__(self, artifact: Artifact, source: str = "", lm: LM | None = None) -> None:
        self.artifact = artifact
        self.source = source
        self.spec: TaskSpec = artifact.task_spec()
        self.model: ModelConfig = self.spec.model
        self.fmt: AnswerFormat = artifact.format()
        self.prompt: Prompt = artifact.prompt
        self._lm = lm
        # The LM is given on first use; TaskRunner never touches it to render or parse.
        self._runner = TaskRunner(self.spec, self.model, self.fmt, lm)  # type: ignore[arg-type]

    @property
    def input_fields(self) -> list[str]:
        """The fields a row must hold: the template's placeholders, in order."""
        return self.spec.prompt.input_fields

    def call(self, row: dict[str, Any]) -> CallRequest:
        """The call `eval` makes for this row: messages, response schema, temperature."""
        return self._runner.request(self.prompt, Example(0, row_inputs(row, self.input_fields), ""))

    def messages(self, row: dict[str, Any]) -> list[dict[str, str]]:
        """The chat messages for one row: instructions and the format line, the shots, then the row."""
        return self.call(row).messages

    def template_messages(self, placeholder: Callable[[str], str] = "{{{{{}}}}}".format) -> list[dict[str, str]]:
        """The messages with every input field left as a placeholder (`{{field}}` by default), rendered by the
        same code, for formats that fill the row in later (Dotprompt, a prompt registry, a messages file)."""
        inputs = {name: placeholder(name) for name in self.input_fields}
        return self._runner.request(self.prompt, Example(0, inputs, "")).messages

    def request(self, row: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments for `litellm.completion`: the model, the messages and every answer-changing param as
        scored (temperature, max_tokens, top_p, stop, the spec's extra params, the response schema). Where the
        model is served (api_base, api_version) is added when the spec named it; a key never is."""
        from ..lm.cache import call_key  # no litellm: the cache module imports only the standard library

        call = self.call(row)
        _, params = call_key(self.model, call.messages, response_format=call.response_format,
                             temperature=call.temperature)
        where = {name: value for name in ("api_base", "api_version") if (value := getattr(self.model, name))}
        return {"model": self.model.name, "messages": call.messages, **params, **where}

    def read(self, text: str) -> Reading:
        """A reply's text read as `eval` reads it."""
        parsed = self.fmt.parse(text)
        return Reading(self.fmt.typed(parsed.answer), parsed.error, dict(parsed.fields), text)

    def parse(self, text: str) -> Any:
        """The answer in a reply, typed (str, int/float, or a dict for several fields); None when unreadable
        (`read(text).error` says why)."""
        return self.read(text).answer

    async def aask(self, row: dict[str, Any]) -> Reading:
        """Send the row's request through opro's LM layer (litellm, with retries, the key from the environment
        as the spec names it, the embedded model registered) and read the reply."""
        lm = self._lm_in_use()
        call = self.call(row)
        completion = await lm.complete(self.model, call.messages, response_format=call.response_format,
                                       temperature=call.temperature)
        return self.read(completion.text)

    async def acomplete(self, row: dict[str, Any]) -> Any:
        """The typed answer for one row (None when unreadable)."""
        return (await self.aask(row)).answer

    def ask(self, row: dict[str, Any]) -> Reading:
        return asyncio.run(self.aask(row))

    def complete(self, row: dict[str, Any]) -> Any:
        """The typed answer for one row, from synchronous code (inside an event loop, await `acomplete`)."""
        return self.ask(row).answer

    def _lm_in_use(self) -> LM:
        if self._lm is None:
            from ..lm import LM

            self._lm = LM(cache=None, concurrency=self.spec.optimizer.concurrency)
            self._runner.lm = self._lm
        return self._lm

    def __repr__(self) -> str:
        return f"LoadedPrompt({self.source or self.artifact.task!r}, model={self.model.name!r})"


def load_prompt(artifact: str | Path | Artifact, *, lm: LM | None = None) -> LoadedPrompt:
    """An artifact's prompt, ready to render, send and parse. A damaged artifact, or one of another schema
    version, is one `InputError`. Pass an `lm` (`opro_cli.CallOptions().make_lm()`) for the response cache,
    budgets or `-j`; by default calls are sent uncached."""
    if isinstance(artifact, Artifact):
        return LoadedPrompt(artifact, lm=lm)
    return LoadedPrompt(load_artifact(artifact), source=str(artifact), lm=lm)
