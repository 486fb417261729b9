"""The optimizer LM's prompt (the OPRO meta-prompt) and the reading of its replies.

The meta-prompt is a template with placeholders, replaceable in the spec (`optimizer.meta_prompt`):
`{task_description}` (the spec's description), `{scoring}` (how an answer is scored), `{scored_instructions}`
(earlier instructions with their scores, ascending, best last, as the OPRO paper shows them), `{exemplars}` (a few
training inputs with their expected outputs) and `{failures}` (up to `optimizer.failures` examples the incumbent
lost, each with its input, its answer, the expected output and the reward's reason, within `FAILURE_TOKENS`: the
optimizer learns why an answer lost, not only the score, as GEPA's reflection does). A paragraph (text between
blank lines) holding a placeholder that renders empty is left out, so a spec without a description gets no
dangling "The task:" line. Literal braces are written `{{` and `}}`.
The reply is read between `<INS>` and `</INS>` tags, so a custom template must ask for them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..scoring.prediction import Prediction
from ..spec.meta_template import fill
from ..spec import (
    ContainsReward,
    ExactMatchReward,
    F1Reward,
    FieldsReward,
    NumericReward,
    PythonReward,
    RegexReward,
    TaskSpec,
)
from .state import Candidate, OptimizerState

MAX_META_CANDIDATES = 20  # as in the OPRO paper
FAILURE_TOKENS = 1000  # the {failures} block's cap, at about 4 characters a token
FAILURE_FIELD_CHARS = 400  # each input, answer, expected value and reason shortened to this

DEFAULT_TEMPLATE = """\
Your task is to write an instruction for a language model that maximises its score on a task.

The task: {task_description}

How an answer is scored: {scoring}

Below are earlier instructions with their scores (0-100), in ascending order: higher is better.

{scored_instructions}

Here are examples of the task, each with its input and the expected output:

{exemplars}

Here are examples the best instruction so far got wrong, each with the model's answer and why it lost:
{failures}

Write a new instruction that differs from all the instructions above, is concise and generally applicable, \
and would score higher than all of them. Write it between <INS> and </INS>."""


def meta_prompt(
    candidates: Sequence[Candidate],
    description: str,
    input_template: str,
    exemplars: Sequence[Prediction],
    template: str | None = None,
    scoring: str = "",
    failures: Sequence[Prediction] = (),
) -> list[dict[str, str]]:
    """The messages asking the optimizer LM for a new instruction; `template` is the spec's
    `optimizer.meta_prompt` (already checked at load time), None for the built-in one; `scoring` says in one
    line how answers are scored (`scoring_line`); `failures` the incumbent's losses (`failures_text`)."""
    best_by_text: dict[str, float] = {}
    for candidate in candidates:
        text = candidate.prompt.instructions.strip()
        best_by_text[text] = max(candidate.score, best_by_text.get(text, 0.0))
    ranked = sorted(best_by_text.items(), key=lambda item: item[1])[-MAX_META_CANDIDATES:]
    values = {
        "task_description": description.strip(),
        "scoring": scoring,
        "scored_instructions": "\n\n".join(f"text:\n{text}\nscore:\n{round(score * 100)}" for text, score in ranked),
        "exemplars": "\n\n".join(
            f"input:\n{input_template.format_map(p.inputs)}\noutput:\n{p.expected}" for p in exemplars
        ),
        "failures": failures_text(failures, input_template),
    }
    return [{"role": "user", "content": fill(template or DEFAULT_TEMPLATE, values)}]




def failures_text(failures: Sequence[Prediction], input_template: str, tokens: int = FAILURE_TOKENS) -> str:
    """The losses as the optimizer model reads them, each field shortened, as many as fit in `tokens`."""
    blocks: list[str] = []
    used = 0
    for p in failures:
        answer = p.answer if p.answer is not None else f"(unreadable) {p.raw}"
        parts = [("input", input_template.format_map(p.inputs)), ("answer", answer), ("expected", p.expected),
                 ("why it lost", p.reason or f"reward {p.reward:.2f}")]
        block = "\n".join(f"{name}:\n{_shortened(text)}" for name, text in parts)
        used += len(block) // 4 + 1
        if blocks and used > tokens:
            break
        blocks.append(block)
    return "\n\n".join(blocks)


def _shortened(text: str, limit: int = FAILURE_FIELD_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def keep_failures(state: OptimizerState, entry: str, predictions: Sequence[Prediction], limit: int) -> OptimizerState:
    """An entry's `limit` lowest-scored answers below full credit, the first found first among equals: the losses on
    its first examples (the minibatch it is screened on), which `{failures}` shows when it leads."""
    losses = [p for p in predictions if p.reward < 1]
    if not limit or not losses:
        return state
    old = state.entries[entry]
    kept = sorted([*old.failures, *losses], key=lambda p: p.reward)[:limit]  # stable: earlier first among equals
    if kept == old.failures:
        return state
    updated = old.model_copy(update={"failures": kept})
    return state.model_copy(update={"entries": {**state.entries, entry: updated}})


def parse_proposal(text: str, max_chars: int) -> str | None:
    """The instruction between <INS> tags, or None: small models often answer with chatter and no tags."""
    found = re.search(r"<INS>(.*?)(?:</INS>|$)", text, re.DOTALL | re.IGNORECASE)
    if not found:
        return None
    instruction = " ".join(found.group(1).split())
    if len(instruction) < 8 or len(instruction) > max_chars or "<INS>" in instruction.upper():
        return None
    return instruction


def scoring_line(spec: TaskSpec) -> str:
    """How an answer is scored, in one line for the optimizer model: what earns the score shown beside each
    instruction (a 0-100 mean of per-example rewards)."""
    reward = spec.reward
    if isinstance(reward, FieldsReward):
        parts = [f"{name}: {_reward_words(reward.fields.get(name, ExactMatchReward(type='exact_match')))}"
                 for name in spec.prompt.output_fields]
        weighted = " (weighted)" if reward.weights else ""
        return (f"the answer is a JSON object with the fields {', '.join(spec.prompt.output_fields)}; its score is "
                f"the mean{weighted} of each field's score: " + "; ".join(parts) + ".")
    return f"{_reward_words(reward)}."


def _reward_words(reward: object) -> str:
    if isinstance(reward, ExactMatchReward):
        return "1 when the answer equals the expected output (ignoring case, spacing and outer punctuation), else 0"
    if isinstance(reward, RegexReward):
        return f"1 when the answer matches the pattern {reward.pattern}, else 0"
    if isinstance(reward, ContainsReward):
        return "1 when the answer contains the expected output as whole words, else 0"
    if isinstance(reward, NumericReward):
        tolerance = " or ".join(t for t in (f"{reward.abs_tol:g}" if reward.abs_tol else "",
                                            f"{reward.rel_tol:.0%}" if reward.rel_tol else "") if t)
        close = f"is within {tolerance} of" if tolerance else "equals"
        return f"1 when the number in the answer {close} the expected number, else 0"
    if isinstance(reward, F1Reward):
        return "the share of words the answer and the expected output have in common (F1, from 0 to 1)"
    if isinstance(reward, PythonReward):
        return "by the user's own scoring function, from 0 to 1"
    return "from 0 to 1"
