"""What a user sees while a job runs: the time left, and one plain line per step with --quiet."""

import io

from rich.console import Console
from typer.testing import CliRunner

from opro_cli.cli import app
from opro_cli.lm import Usage
from opro_cli.reports.live import Display
from opro_cli.progress import Progress
from toy_task import write_toy_task


def plain_console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=100, force_terminal=False, color_system=None), buffer


def rendered(display: Display) -> str:
    console, buffer = plain_console()
    console.print(display)
    return buffer.getvalue()


def test_the_live_panel_gives_the_time_left_for_an_optimisation_and_an_evaluation():
    display = Display(plain_console()[0], Usage(), "optimising", started=0.0)
    display.progress = Progress(phase="scoring candidates", step=0, total_steps=4, epoch=0, budget=100)
    assert "left" not in rendered(display)  # no call made yet: no pace to go by
    display.progress = Progress(phase="scoring candidates", step=1, total_steps=4, epoch=0, spent=20, budget=100)
    assert "left" in rendered(display) and "20/100 planned calls" in rendered(display)
    evaluation = Display(plain_console()[0], Usage(), "evaluating", started=0.0)
    evaluation.progress = Progress(phase="evaluating", step=0, total_steps=0, epoch=0, done=10, total=30)
    assert "left" in rendered(evaluation)
    evaluation.progress.done = 30
    assert "~0s left" in rendered(evaluation)


def test_quiet_optimize_prints_one_line_per_step(tmp_path, toy_provider):
    task = write_toy_task(tmp_path)
    result = CliRunner().invoke(app, ["optimize", str(task.spec), "--data", str(task.train), "-o", str(task.artifact),
                                      "--no-cache", "--quiet"])
    assert result.exit_code == 0, result.output
    steps = [line for line in result.output.splitlines() if line.startswith("step ")]
    numbers = [int(line.split()[1].split("/")[0]) for line in steps]  # "step 2/4": 4 is the plan's estimate
    assert numbers == list(range(1, len(steps) + 1))
    assert all(" left" in line for line in steps) and "best prompt (validation)" in result.output
