"""The optimised prompt (instructions + few-shot examples) and its rendering into chat messages.

The fixed part comes first (instructions, then shots as user/assistant turns) and the example's input last,
so providers with prefix caching (llama.cpp's KV cache, OpenAI's prompt cache) reuse the shared prefix.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .answers import AnswerFormat


class Shot(BaseModel):
    """A few-shot example: the input fields and the answer, plus any extra JSON fields (e.g. reasoning)."""

    model_config = ConfigDict(frozen=True)

    inputs: dict[str, str]
    answer: str
    fields: dict[str, str] = Field(default_factory=dict)


class Prompt(BaseModel):
    """What FewShotOPRO optimises; a candidate is one of these with its validation score."""

    model_config = ConfigDict(frozen=True)

    instructions: str
    shots: tuple[Shot, ...] = ()

    def key(self) -> tuple[str, tuple[tuple[tuple[str, str], ...], ...]]:
        """Identity for de-duplication: same instructions and same shots in the same order."""
        return self.instructions.strip(), tuple(tuple(sorted(s.inputs.items())) for s in self.shots)


def render_messages(prompt: Prompt, inputs: dict[str, str], template: str, fmt: AnswerFormat) -> list[dict[str, str]]:
    system = "\n\n".join(part for part in (prompt.instructions.strip(), fmt.instruction()) if part)
    messages = [{"role": "system", "content": system}]
    for shot in prompt.shots:
        messages.append({"role": "user", "content": template.format_map(shot.inputs)})
        messages.append({"role": "assistant", "content": fmt.render(shot.answer, shot.fields)})
    messages.append({"role": "user", "content": template.format_map(inputs)})
    return messages
