"""A response_format's JSON schema as the embedded engine's grammar (llguidance): JSON on one line, as
`json.dumps` writes it, and objects closed to keys they do not list.

The engine's own reading of a schema lets the model indent and add keys; a small model then spends a short
max_tokens on newlines or extra keys before the answer is closed. llama-cpp-python, the engine before, wrote
compact JSON and closed objects, and the answers stay the same with this grammar."""

from __future__ import annotations

import json
from typing import Any

# llguidance's JSON options (its `x-guidance` key): no free whitespace, separators as json.dumps.
ONE_LINE_JSON = {"whitespace_flexible": False, "key_separator": ": ", "item_separator": ", "}


def schema_of(response_format: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of OpenAI's `json_schema` shape or of `{"type": "json_object", "schema": ...}`; None: none."""
    schema = (response_format.get("json_schema") or {}).get("schema") or response_format.get("schema")
    return schema if isinstance(schema, dict) else None


def one_line_grammar(schema: dict[str, Any]) -> str:
    """The engine's grammar for `schema`, closed and on one line (xllamacpp must be importable)."""
    from xllamacpp import json_schema_to_grammar

    return json_schema_to_grammar(json.dumps({**closed(schema), "x-guidance": ONE_LINE_JSON}))


def closed(schema: Any) -> Any:
    """The schema with `additionalProperties: false` on every object that lists its properties and says nothing
    about others, as llama.cpp's schema reader takes it (JSON Schema itself would allow any other key)."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: closed(value) for key, value in schema.items()}
    if "properties" in result and "additionalProperties" not in result:
        result["additionalProperties"] = False
    return result
