"""DSPy's prompt optimizers on the same task, split, model and reward as opro-cli (needs the `bench` extra).

DSPy calls models through litellm, so once `opro_cli.lm.local_provider.register()` has run in this process,
`dspy.LM("local/smollm2")` is the same embedded model. DSPy's cache is switched off so every run is cold.
Calls are counted from DSPy's global history (one entry per LM request; failed requests are not recorded).
An optimizer that raises is reported as "crashed: <one line>", never fails the benchmark.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from opro_cli.data import Example
from opro_cli.scoring.rewards import Scorer
from opro_cli.spec import TaskSpec

# DSPy's own output markers ("[[ ## sentiment ## ]] ... [[ ## completed ## ]]") need room beyond the answer.
EXTRA_TOKENS = 32


@dataclass
class PeerResult:
    name: str
    status: str  # "ok" | "crashed: <one line>"
    settings: dict[str, Any] = field(default_factory=dict)
    test_score: float | None = None
    rewards: list[float] = field(default_factory=list)
    calls: int = 0  # LM requests made while optimising (test evaluation not included)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0
    test_calls: int = 0
    test_failures: int = 0  # test predictions DSPy could not parse (scored 0)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def dspy_version() -> str | None:
    try:
        from importlib.metadata import version

        import dspy  # noqa: F401 - the import is the check

        return version("dspy")
    except ImportError:
        return None


def run_peers(
    spec: TaskSpec,
    train: list[Example],
    validation: list[Example],
    test: list[Example],
    seed: int,
    call_budget: int,
    log_file: Path,
) -> list[PeerResult]:
    """Run each DSPy optimizer, sized to at least `call_budget` LM calls, and score it on `test`."""
    import dspy
    from dspy.clients import base_lm

    from opro_cli.lm.local_provider import register

    register()
    logging.getLogger("dspy").setLevel(logging.ERROR)
    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)
    max_tokens = (spec.model.max_tokens or 16) + EXTRA_TOKENS
    lm = dspy.LM(spec.model.name, cache=False, temperature=spec.model.temperature or 0.0, max_tokens=max_tokens, num_retries=0)
    dspy.configure(lm=lm)

    scorer = Scorer(spec.reward)
    output = spec.prompt.output
    k = spec.optimizer.k

    def metric(example: Any, prediction: Any, trace: Any = None) -> float:
        answer = getattr(prediction, output, None)
        return scorer(None if answer is None else str(answer), example[output])

    program = dspy.Predict(_signature(dspy, spec))
    trainset, valset = _examples(dspy, train, output), _examples(dspy, validation, output)
    # Each optimizer gets at least `call_budget` calls (one per prediction at least; two when DSPy's ChatAdapter
    # fails to parse and its JSONAdapter asks again), so opro's score is compared at an equal or smaller budget.
    # Random search scores n + 3 programs on the validation split (zero-shot, labelled shots, unshuffled
    # bootstrap, n shuffled ones) and bootstraps n + 1 of them at ~2k attempts each (measured here); n is
    # rounded up, plus one for margin.
    val, boot = len(valset), 2 * k
    candidates = max(1, -(-(call_budget - 3 * val - boot) // (val + boot)) + 1)
    # COPRO scores `breadth` instructions per depth on the set it is given (the validation split here).
    breadth, depth = 4, max(1, -(-call_budget // (4 * len(valset))))
    # MIPROv2: bootstrapped demo sets and proposed instructions, then one validation pass per trial.
    mipro_candidates = 4
    trials = max(2, -(-call_budget // len(valset)))
    optimizers: list[tuple[str, dict[str, Any], Callable[[], Any]]] = [
        (
            "BootstrapFewShotWithRandomSearch",
            {"max_bootstrapped_demos": k, "max_labeled_demos": k, "num_candidate_programs": candidates},
            lambda: dspy.BootstrapFewShotWithRandomSearch(
                metric=metric, max_bootstrapped_demos=k, max_labeled_demos=k, num_candidate_programs=candidates, num_threads=1
            ).compile(program, trainset=trainset, valset=valset),
        ),
        (
            "COPRO",
            {"breadth": breadth, "depth": depth},
            lambda: dspy.COPRO(metric=metric, breadth=breadth, depth=depth).compile(
                program, trainset=valset, eval_kwargs={"num_threads": 1, "display_progress": False}
            ),
        ),
        (
            "MIPROv2",
            {"auto": None, "num_candidates": mipro_candidates, "num_trials": trials, "minibatch": False},
            lambda: dspy.MIPROv2(
                metric=metric, auto=None, num_candidates=mipro_candidates, max_bootstrapped_demos=k,
                max_labeled_demos=k, num_threads=1, seed=seed,
            ).compile(program, trainset=trainset, valset=valset, num_trials=trials, minibatch=False),
        ),
    ]
    results = []
    with log_file.open("a", encoding="utf-8") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        for name, settings, compile_ in optimizers:
            result = PeerResult(name, "ok", settings)
            start, calls_before = time.perf_counter(), len(base_lm.GLOBAL_HISTORY)
            try:
                optimized = compile_()
            except Exception as exc:  # noqa: BLE001 - any crash is a result to report
                optimized = None
                result.status = "crashed: " + _one_line(exc)
            result.wall_s = time.perf_counter() - start
            _count(result, base_lm.GLOBAL_HISTORY[calls_before:])
            if optimized is not None:
                before_test = len(base_lm.GLOBAL_HISTORY)
                scores = [_score(optimized, example, metric) for example in _examples(dspy, test, output)]
                result.rewards = [score or 0.0 for score in scores]
                result.test_failures = scores.count(None)
                result.test_score = sum(result.rewards) / len(result.rewards)
                result.test_calls = len(base_lm.GLOBAL_HISTORY) - before_test
            results.append(result)
    return results


def _signature(dspy: Any, spec: TaskSpec) -> Any:
    """The task as a DSPy signature: the spec's input fields in, its output field out (a Literal for labels)."""
    fields: dict[str, Any] = {name: (str, dspy.InputField()) for name in spec.prompt.input_fields}
    answer_type: Any = str
    if spec.answer.type == "label" and isinstance(spec.answer.choices, list):
        answer_type = Literal[tuple(spec.answer.choices)]
    fields[spec.prompt.output] = (answer_type, dspy.OutputField())
    return dspy.make_signature(fields, spec.prompt.instructions)


def _examples(dspy: Any, examples: list[Example], output: str) -> list[Any]:
    return [dspy.Example(**e.inputs, **{output: e.expected}).with_inputs(*e.inputs) for e in examples]


def _score(program: Any, example: Any, metric: Callable[..., float]) -> float | None:
    """The reward, or None for a prediction DSPy cannot parse (it scores 0, as a parse failure does in opro-cli)."""
    try:
        return metric(example, program(**example.inputs()))
    except Exception:  # noqa: BLE001 - AdapterParseError and friends
        return None


def _count(result: PeerResult, entries: list[dict[str, Any]]) -> None:
    result.calls = len(entries)
    for entry in entries:
        usage = entry.get("usage") or {}
        result.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        result.completion_tokens += int(usage.get("completion_tokens") or 0)


def _one_line(exc: BaseException) -> str:
    """The exception's first line, plus DSPy's 'Expected to find output fields ...' line when there is one."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    kept = lines[:1] + [line for line in lines[1:] if line.startswith("Expected to find")]
    return f"{type(exc).__name__}: {' '.join(kept)}"[:240]
