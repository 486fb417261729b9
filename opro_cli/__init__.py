"""opro-cli: optimise an LM prompt (instructions + few-shot examples) with FewShotOPRO, through litellm.

The Python API is `optimize` and `evaluate` (see `opro_cli.jobs`), and `load_prompt` to use an optimised prompt
from an application (see `opro_cli.use`). They are imported on first use, so
`import opro_cli` stays cheap (litellm and pydantic load only when a job runs). `docs/architecture.md` maps the
package.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["CallOptions", "evaluate", "load_prompt", "optimize"]

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (type checkers read the name)
if TYPE_CHECKING:
    from .jobs import CallOptions, evaluate, optimize
    from .use import load_prompt


def __getattr__(name: str) -> object:
    if name == "load_prompt":
        from .use import loaded

        return loaded.load_prompt
    if name in __all__:
        from . import jobs

        return getattr(jobs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
