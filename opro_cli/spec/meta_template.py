"""The rules a meta-prompt template (`optimizer.meta_prompt`) must follow, checked when the spec is loaded.

The template itself is rendered by `opro_cli.search.meta_prompt`; the spec only needs to know it is usable.
"""

from __future__ import annotations

import string

PLACEHOLDERS = ("task_description", "scored_instructions", "exemplars", "scoring", "failures")
REQUIRED_PLACEHOLDER = "scored_instructions"


def template_problem(template: str) -> str | None:
    """Why a meta-prompt template cannot be used (bad braces, unknown or missing placeholder), or None."""
    try:
        names = [name for _, name, spec, conv in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        return f"bad template: {exc} (write literal braces as {{{{ and }}}})"
    known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    for name in names:
        if name not in PLACEHOLDERS:
            return f"unknown placeholder {{{name}}} (known: {known}; write literal braces as {{{{ and }}}})"
    if REQUIRED_PLACEHOLDER not in names:
        return f"the template must contain {{{REQUIRED_PLACEHOLDER}}} (known placeholders: {known})"
    return None
