"""The measured prompt outside the search: loaded by an application (`loaded`: `load_prompt`), and the renderings
other tools load (exports: `dotprompt` for litellm's Dotprompt integration, `messages_file` for any language,
`mlflow_registry` for MLflow's prompt registry, `exports` what they share). Every path renders, asks and parses
with the code `opro eval` scored the prompt with (`scoring.runner.TaskRunner`, `scoring.answers.AnswerFormat`),
so what is used is what was measured; each export is checked through the other tool's own code before it is
written.

May import: `opro_cli.artifact`, `opro_cli.scoring`, `opro_cli.lm`, `opro_cli.data`, `opro_cli.spec` and the
helpers. Not `opro_cli.jobs`, `opro_cli.reports` or `opro_cli.cli`, which build on it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (type checkers read the name)
if TYPE_CHECKING:
    from .loaded import LoadedPrompt, Reading, load_prompt

__all__ = ["LoadedPrompt", "Reading", "load_prompt"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from . import loaded

        return getattr(loaded, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
