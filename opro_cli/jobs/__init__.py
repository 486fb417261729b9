"""The jobs behind the commands, usable without the CLI: optimise a spec (`optimizing`), evaluate an artifact's
prompt (`evaluating`), compare two (`comparing`), check a spec and its data (`validating`), write a spec from a
dataset (`scaffold`), send an evaluation's calls as a provider batch (`batching`), write the prompt for another tool
or a prompt registry (`exporting`); `options` says how their LM
calls are made. `optimize` and `evaluate` are the Python API
(`from opro_cli import optimize, evaluate, CallOptions`).

May import everything below it: `opro_cli.use`, `opro_cli.search`, `opro_cli.scoring`, `opro_cli.lm`, `opro_cli.artifact`,
`opro_cli.data`, `opro_cli.spec` and the helpers. Not `opro_cli.reports` or `opro_cli.cli`, which show what jobs return.
Names are imported on first use, so `opro init` and `opro validate` do not load the search.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "CallOptions": "options",
    "OptimizeJob": "optimizing",
    "build_artifact": "optimizing",
    "optimize": "optimizing",
    "evaluate": "evaluating",
    "evaluate_prompt": "evaluating",
    "score_baseline": "evaluating",
    "CompareJob": "comparing",
    "EvalResult": "..scoring.evaluation",  # what evaluate returns, and a comparison of two of them
    "Comparison": "..scoring.evaluation",
}
__all__ = sorted(_HOMES)

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (type checkers read the name)
if TYPE_CHECKING:
    from ..scoring.evaluation import Comparison, EvalResult
    from .comparing import CompareJob
    from .evaluating import evaluate, evaluate_prompt, score_baseline
    from .optimizing import OptimizeJob, build_artifact, optimize
    from .options import CallOptions


def __getattr__(name: str) -> object:
    if name in _HOMES:
        home = _HOMES[name]
        return getattr(importlib.import_module(home if home.startswith(".") else f".{home}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
