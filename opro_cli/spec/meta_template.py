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
    return placeholder_problem(template, PLACEHOLDERS, REQUIRED_PLACEHOLDER, "the template")


def placeholder_problem(template: str, known_names: tuple[str, ...], required: str, what: str,
                        names_out: list[str] | None = None) -> str | None:
    """Why a `str.format` template cannot be filled (bad braces, a placeholder not in `known_names`, `required`
    missing), or None; `names_out` receives the placeholders it uses."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        return f"bad template: {exc} (write literal braces as {{{{ and }}}})"
    if names_out is not None:
        names_out.extend(names)
    known = ", ".join("{" + name + "}" for name in known_names)
    for name in names:
        if name not in known_names:
            return f"unknown placeholder {{{name}}} (known: {known}; write literal braces as {{{{ and }}}})"
    if required not in names:
        return f"{what} must contain {{{required}}} (known placeholders: {known})"
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
