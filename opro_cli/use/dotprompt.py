"""The prompt as a Dotprompt `.prompt` file in the dialect litellm's own integration reads
(`litellm.completion(model="dotprompt/...", prompt_id=..., prompt_variables=...)`, litellm/integrations/dotprompt).

What that integration does, read from its source (litellm 1.110), and what this file does about it:
- The body is a Jinja2 template (Handlebars-style `{{field}}`) with HTML autoescape on for templates given as
  text: a row's `'`, `"`, `<`, `>`, `&` would reach the model as `&#39;`, `&#34;`, ... So the body is wrapped in
  `{% autoescape false %}`.
- The rendered text is cut into messages by lines starting with `System:`, `User:` or `Assistant:`, and every line
  is stripped of surrounding whitespace. A prompt or row with such a line, or with whitespace at a line's ends,
  cannot be carried: `check` finds it and the export is refused.
- The front matter's `model` is used, but its other keys (temperature, max_tokens, response_format, ...) are
  dropped: `PromptManagementBase.post_compile_prompt_processing` returns them, and `litellm.completion` assigns
  them to `optional_params` then rebuilds `optional_params` from its own keyword arguments; `acompletion` discards
  them (`model, messages, _ = ...`). An app must pass them itself: they are the template's `optional_params`
  (every front-matter key but model, input and output), and `check` verifies that they are the scored ones.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from .exports import CheckRow, mismatch, provenance, refuse, scored_params, score_line, unrenderable
from .loaded import LoadedPrompt

ROLES = {"system": "System", "user": "User", "assistant": "Assistant"}
MARKERS = tuple(f"{name}:" for name in ROLES.values())
FORMAT = "dotprompt"


def render(p: LoadedPrompt, test: dict[str, Any] | None = None) -> str:
    """The `.prompt` file: front matter (model, the scored parameters, input schema, output format) and the
    messages as role blocks, each input field a `{{field}}` placeholder."""
    import yaml

    record = provenance(p, test)
    fmt = p.fmt
    front: dict[str, Any] = {"model": p.model.name, **scored_params(p)}
    front["input"] = {"schema": {name: "string" for name in p.input_fields}}
    front["output"] = {"format": "json", "schema": fmt.schema()} if fmt.json_mode else {"format": "text"}
    header = [
        f"# opro-cli export of run {json.dumps(record['run_id'])}, task {json.dumps(record['task'])}, "
        f"model {json.dumps(record['model'])}: {score_line(record)}",
        f"# Provenance: {json.dumps(record, ensure_ascii=False, separators=(',', ':'))}",
        "# litellm renders the messages but does not send the parameters below: pass the template's optional_params",
        "# with the call (see `opro export` in docs/commands.md). Every input field is a string (a number as its",
        "# JSON text).",
    ]
    body = "\n\n".join(f"{ROLES[m['role']]}: {m['content']}" for m in p.template_messages())
    dumped = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1 << 30)
    front_matter = "---\n" + "\n".join(header) + "\n" + dumped + "---\n"
    return front_matter + "{% autoescape false %}\n" + body + "\n{% endautoescape %}\n"


def check(text: str, p: LoadedPrompt, rows: Iterable[CheckRow], prompt_id: str = "prompt") -> int:
    """Render every row through litellm's Dotprompt integration (the call `litellm.completion` makes) and compare
    with the scored request: model, messages, parameters. The first row that differs is refused with the reason.
    Returns the rows checked."""
    expected_params = scored_params(p)
    render_row = litellm_renderer(text, prompt_id)
    count = 0
    for item in rows:
        want = p.messages(item.row)
        try:
            model, messages, params = render_row(item.row)
        except Exception as exc:  # noqa: BLE001 - whatever litellm raises, the file cannot carry the prompt
            failure = f"litellm cannot render it ({_first_line(exc)})"
            raise unrenderable(FORMAT, want, item.where, diagnose, failure) from None
        if messages != want:
            raise mismatch(FORMAT, messages, want, item.where, diagnose)
        if model != p.model.name:
            raise refuse(FORMAT, item.where, f"litellm reads the model as {model!r}, not {p.model.name!r}")
        if params != expected_params:
            raise refuse(FORMAT, item.where, "the front matter does not give back the scored parameters")
        count += 1
    return count


Rendered = tuple[str, list[dict[str, Any]], dict[str, Any]]  # the model, the messages, the template's parameters


def litellm_renderer(text: str, prompt_id: str) -> Callable[[dict[str, Any]], Rendered]:
    """What litellm makes of the file for a row: the model it calls, the messages it sends, and the template's
    parameters (the ones it drops, which the app passes). The file is read once, by litellm's own parser."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the price map at import
    from litellm.integrations.dotprompt import DotpromptManager, get_prompt_data_from_dotprompt_content

    manager = DotpromptManager(prompt_data=get_prompt_data_from_dotprompt_content(text), prompt_id=prompt_id)

    def render_row(row: dict[str, Any]) -> Rendered:
        if manager.prompt_manager.get_prompt(prompt_id) is None:
            raise ValueError("no prompt in the file")
        model, messages, params = manager.get_chat_completion_prompt(
            model="dotprompt/model", messages=[], non_default_params={}, prompt_id=prompt_id,
            prompt_variables=row, dynamic_callback_params={},  # type: ignore[arg-type]
        )
        return model, [dict(m) for m in messages], params

    return render_row


def diagnose(content: str) -> str:
    """Why litellm's parser cannot give this message back, when it is one of the known reasons."""
    for line in content.split("\n"):
        if line.strip().startswith(MARKERS):
            marker = line.strip().split(":", 1)[0] + ":"
            return f"has a line starting with {marker!r}, which litellm's Dotprompt parser takes for a new message"
    if content != content.strip() or any(line != line.strip() for line in content.split("\n")):
        return "has whitespace at the start or end of a line, which litellm's Dotprompt parser strips"
    if re.search(r"\{\{|\{%|\{#", content):
        return "holds template syntax ({{, {% or {#), which the Dotprompt template would run"
    return ""


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
