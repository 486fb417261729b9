"""The Python API (`from opro_cli import optimize, evaluate`): the jobs behind the commands, for notebooks."""

import subprocess
import sys

from opro_cli import CallOptions, evaluate, optimize
from opro_cli.artifact import Artifact, load_artifact
from toy_task import write_toy_task


def test_optimize_then_evaluate_from_python(tmp_path, toy_provider):
    task = write_toy_task(tmp_path)
    steps, prepared = [], []
    artifact = optimize(
        task.spec, task.train, task.artifact, options=CallOptions(cache=False),
        on_progress=lambda p: steps.append(p.step) if p.phase == "step done" else None,
        on_start=prepared.append,
    )
    assert isinstance(artifact, Artifact) and load_artifact(task.artifact) == artifact
    assert artifact.scores.best_validation == 1.0 > artifact.scores.seed_validation
    assert steps == list(range(1, prepared[0].total_steps + 1))
    assert prepared[0].lm.usage.calls == artifact.run.usage["calls"]

    seen = []
    result = evaluate(task.artifact, task.test, baseline=True, options=CallOptions(cache=False),
                      on_progress=lambda p: seen.append((p.done, p.total)))
    assert result.score == 1.0 and len(result.predictions) == 30
    assert result.baseline is not None and result.baseline.a.score == 0.0 and result.baseline.verdict == "b is better"
    assert seen[0] == (0, 60) and seen[-1] == (60, 60)
    again = evaluate(artifact, str(task.test), options=CallOptions(cache=False))  # an Artifact object, a str path
    assert again.score == 1.0 and again.baseline is None


def test_import_is_cheap_and_evaluate_is_the_function():
    code = (
        "import sys, opro_cli\n"
        "print('litellm' in sys.modules, 'pydantic' in sys.modules)\n"
        "import opro_cli.scoring\n"
        "from opro_cli import evaluate, optimize\n"
        "print(callable(evaluate), evaluate.__module__, optimize.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "False False"
    assert out[1] == "True opro_cli.jobs.evaluating opro_cli.jobs.optimizing"
