"""The rules a meta-prompt template (`optimizer.meta_prompt`) must follow, checked when the spec is loaded.

The template itself is filled by `fill` (for the optimizer's meta-prompt in `opro_cli.search.meta_prompt`, and
for a judge's prompt in `opro_cli.scoring.judge`): one rule for both kinds of prompt template a spec may hold.
"""

from __future__ import annotations

import re
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


def fill(template: str, values: dict[str, str]) -> str:
    """Fill the placeholders paragraph by paragraph, leaving out paragraphs whose placeholders are all empty (no
    description: no "The task:" line; no reference: no "Expected:" paragraph)."""
    kept = []
    for paragraph in re.split(r"\n[ \t]*\n", template):
        names = [name for _, name, _, _ in string.Formatter().parse(paragraph) if name]
        if names and not any(values[name] for name in names):
            continue
        kept.append(paragraph.format_map(values))
    return "\n\n".join(kept)
