"""A `.env` file in the working directory, read into the environment before a command runs.

Provider keys stay where litellm looks for them (`OPENAI_API_KEY` ...); `.env` is only a convenience for
putting them there. Variables already set always win, so CI secrets cannot be shadowed by a stray file.
The format is the common subset: `KEY=VALUE`, `export KEY=VALUE`, `#` comments, single or double quotes
(double quotes understand `\\n`, `\\t`, `\\"` and `\\\\`).
"""

from __future__ import annotations

import os
import re
from collections.abc import MutableMapping
from pathlib import Path

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def parse_env(text: str) -> dict[str, str]:
    """The variables of a `.env` text; lines that are not assignments are ignored, as other tools do."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        found = _LINE.match(line)
        if found is not None:
            values[found.group(1)] = _value(found.group(2))
    return values


def _value(raw: str) -> str:
    if raw.startswith("'") and raw.find("'", 1) > 0:
        return raw[1 : raw.find("'", 1)]  # single quotes: literal
    if raw.startswith('"'):
        chars: list[str] = []
        index = 1
        while index < len(raw):
            char = raw[index]
            if char == "\\" and index + 1 < len(raw):
                chars.append(_ESCAPES.get(raw[index + 1], "\\" + raw[index + 1]))
                index += 2
                continue
            if char == '"':
                return "".join(chars)
            chars.append(char)
            index += 1
    # Unquoted (or an unclosed quote): a comment starts at " #"; a "#" inside a value, as in a URL, is kept.
    return re.split(r"\s#", raw, maxsplit=1)[0].strip()


def load_env_file(path: str | Path = ".env", environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Set the file's variables that are not set yet; returns their names. A missing file is not an error."""
    environ = os.environ if environ is None else environ
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    added = []
    for name, value in parse_env(text).items():
        if name not in environ:
            environ[name] = value
            added.append(name)
    return added
