"""The optimizer LM's prompt (the OPRO meta-prompt) and the reading of its replies.

The meta-prompt is a template with three placeholders, replaceable in the spec (`optimizer.meta_prompt`):
`{task_description}` (the spec's description), `{scored_instructions}` (earlier instructions with their scores,
ascending, best last, as the OPRO paper shows them) and `{exemplars}` (a few training inputs with their expected
outputs). A paragraph (text between blank lines) holding a placeholder that renders empty is left out, so a
spec without a description gets no dangling "The task:" line. Literal braces are written `{{` and `}}`.
The reply is read between `<INS>` and `</INS>` tags, so a custom template must ask for them.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

from ..scoring.prediction import Prediction
from .state import Candidate

MAX_META_CANDIDATES = 20  # as in the OPRO paper

DEFAULT_TEMPLATE = """\
Your task is to write an instruction for a language model that maximises its score on a task.

The task: {task_description}

Below are earlier instructions with their scores (0-100), in ascending order: higher is better.

{scored_instructions}

Here are examples of the task, each with its input and the expected output:

{exemplars}

Write a new instruction that differs from all the instructions above, is concise and generally applicable, \
and would score higher than all of them. Write it between <INS> and </INS>."""


def meta_prompt(
    candidates: Sequence[Candidate],
    description: str,
    input_template: str,
    exemplars: Sequence[Prediction],
    template: str | None = None,
) -> list[dict[str, str]]:
    """The messages asking the optimizer LM for a new instruction; `template` is the spec's
    `optimizer.meta_prompt` (already checked at load time), None for the built-in one."""
    best_by_text: dict[str, float] = {}
    for candidate in candidates:
        text = candidate.prompt.instructions.strip()
        best_by_text[text] = max(candidate.score, best_by_text.get(text, 0.0))
    ranked = sorted(best_by_text.items(), key=lambda item: item[1])[-MAX_META_CANDIDATES:]
    values = {
        "task_description": description.strip(),
        "scored_instructions": "\n\n".join(f"text:\n{text}\nscore:\n{round(score * 100)}" for text, score in ranked),
        "exemplars": "\n\n".join(
            f"input:\n{input_template.format_map(p.inputs)}\noutput:\n{p.expected}" for p in exemplars
        ),
    }
    return [{"role": "user", "content": render(template or DEFAULT_TEMPLATE, values)}]


def render(template: str, values: dict[str, str]) -> str:
    """Fill the placeholders paragraph by paragraph, leaving out paragraphs whose placeholders are all empty."""
    kept = []
    for paragraph in re.split(r"\n[ \t]*\n", template):
        names = [name for _, name, _, _ in string.Formatter().parse(paragraph) if name]
        if names and not any(values[name] for name in names):
            continue
        kept.append(paragraph.format_map(values))
    return "\n\n".join(kept)


def parse_proposal(text: str, max_chars: int) -> str | None:
    """The instruction between <INS> tags, or None: small models often answer with chatter and no tags."""
    found = re.search(r"<INS>(.*?)(?:</INS>|$)", text, re.DOTALL | re.IGNORECASE)
    if not found:
        return None
    instruction = " ".join(found.group(1).split())
    if len(instruction) < 8 or len(instruction) > max_chars or "<INS>" in instruction.upper():
        return None
    return instruction
