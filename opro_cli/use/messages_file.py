"""The prompt as one JSON file an app in any language can use: the chat messages with `{field}` placeholders, the
request parameters, the response schema and how to read the answer, plus where the prompt comes from.

Only the last message holds placeholders (the instructions and the shots are fixed text), and it is filled in one
pass: each `{field}` of `input_fields` replaced by the row's value, values never searched again. `fill` is that
rule in Python, and `check` makes sure it gives back the scored messages on the artifact's shots and any data given:
a prompt whose last message already holds a literal `{field}` (or a template whose format spec changes a value)
would be filled wrongly, so it is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from .exports import CheckRow, mismatch, provenance, refuse, scored_params
from .loaded import LoadedPrompt

KIND = "opro-cli messages"
VERSION = 1
FORMAT = "messages"
FILL = ("Replace each {field} of input_fields in the last message's content by the row's value (a string; a number "
        "as its JSON text), in one pass: inserted values are not searched again. The other messages are fixed.")


def document(p: LoadedPrompt, test: dict[str, Any] | None = None) -> dict[str, Any]:
    """The file's content."""
    fmt = p.fmt
    params = scored_params(p)
    answer: dict[str, Any] = {
        "json": fmt.json_mode,  # the reply is one JSON object (read its "answer", or each output field)
        "type": fmt.type,
        "choices": list(fmt.choices),
        "fields": dict(fmt.fields),  # extra JSON fields asked before the answer (say, reasoning)
        "outputs": [{"name": o.name, "type": o.type, "choices": list(o.choices)} for o in fmt.outputs],
        "schema": fmt.schema() if fmt.json_mode else None,
        "read": _reading(fmt.json_mode, bool(fmt.outputs)),
    }
    return {
        "kind": KIND,
        "version": VERSION,
        "model": p.model.name,
        "input_fields": list(p.input_fields),
        "fill": FILL,
        "messages": p.template_messages("{{{}}}".format),
        "parameters": params,
        "response_format": params.get("response_format"),
        "answer": answer,
        "source": provenance(p, test),
    }


def render(p: LoadedPrompt, test: dict[str, Any] | None = None) -> str:
    return json.dumps(document(p, test), indent=2, ensure_ascii=False) + "\n"


def fill(doc: dict[str, Any], row: dict[str, str]) -> list[dict[str, str]]:
    """The messages for one row, by the file's own rule (`FILL`)."""
    messages = [dict(m) for m in doc["messages"]]
    names = doc["input_fields"]
    if names:
        pattern = re.compile("|".join(re.escape("{" + name + "}") for name in names))
        messages[-1]["content"] = pattern.sub(lambda m: str(row[m.group(0)[1:-1]]), messages[-1]["content"])
    return messages


def check(text: str, p: LoadedPrompt, rows: Iterable[CheckRow]) -> int:
    """Fill the written file for every row and compare with the scored messages; refuse the first that differs."""
    doc = json.loads(text)
    if doc["parameters"] != scored_params(p) or doc["model"] != p.model.name:
        raise refuse(FORMAT, "parameters", "the file does not give back the scored model and parameters")
    count = 0
    for item in rows:
        want = p.messages(item.row)
        got = fill(doc, item.row)
        if got != want:
            raise mismatch(FORMAT, got, want, item.where, lambda text: (
                "holds a {field} placeholder of its own, which filling the file would replace"))
        count += 1
    return count


def _reading(json_mode: bool, several: bool) -> str:
    if several:
        return "Parse the reply as one JSON object; each output is the field of its name, typed as its type says."
    if json_mode:
        return ('Parse the reply as one JSON object and take its "answer" (typed as type says); the fields are the '
                "other keys.")
    return ("The reply's text, trimmed, is the answer: for a label, the one of choices it names; for integer or "
            "number, the number in it.")
