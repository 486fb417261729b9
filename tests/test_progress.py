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



def test_the_live_panel_shows_the_leader_beside_the_best_prompt_and_why_the_plan_grew():
    display = Display(plain_console()[0], Usage(), "optimising", started=0.0)
    display.progress = Progress(phase="step done", step=4, total_steps=4, epoch=0, best_score=0.0, best_examples=26,
                                seed_score=0.0, leader_score=0.875, leader_examples=24, note="verification: ...")
    panel = rendered(display)
    assert "best prompt" in panel and "0.0% on 26" in panel
    assert "race leader" in panel and "87.5% on 24 examples, not verified" in panel
    assert "verification: ..." in panel

def test_quiet_optimize_prints_one_line_per_step(tmp_path, toy_provider):
    task = write_toy_task(tmp_path)
    result = CliRunner().invoke(app, ["optimize", str(task.spec), "--data", str(task.train), "-o", str(task.artifact),
                                      "--no-cache", "--quiet"])
    assert result.exit_code == 0, result.output
    steps = [line for line in result.output.splitlines() if line.startswith("step ")]
    numbers = [int(line.split()[1].split("/")[0]) for line in steps]  # "step 2/4": 4 is the plan's estimate
    assert numbers == list(range(1, len(steps) + 1))
    assert all(" left" in line for line in steps) and "best prompt (validation)" in result.output


def plain_run(tmp_path, *extra: str) -> list[str]:
    """The lines an optimisation prints to a log (not a terminal), on the toy provider."""
    tmp_path.mkdir(exist_ok=True)
    task = write_toy_task(tmp_path)
    result = CliRunner().invoke(app, ["optimize", str(task.spec), "--data", str(task.train), "-o", str(task.artifact),
                                      "--no-cache", *extra])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_the_step_lines_show_the_leader_beside_the_best_prompt_from_the_first_step(tmp_path, toy_provider):
    """The seed prompt scores 0 % for steps while candidates score 100 % on their screening minibatch: the
    accepted best stays at 0 % until the verification, so the line shows the leader and its examples too."""
    steps = [line for line in plain_run(tmp_path) if line.startswith("step ")]
    first, last = steps[0], steps[-1]
    assert " best 0.0% on 8 " in first and " leader 100.0% on 8 " in first
    assert " best 100.0% on 11 " in last and " leader: the best " in last


def test_a_step_past_the_plan_says_why(tmp_path, toy_provider):
    """The plan's step count is an estimate: a step beyond it (a verification, or steps cheaper than planned)
    comes with a line that says why."""
    lines = plain_run(tmp_path, "--budget", "400")
    planned = int(lines[0].split("; about ")[1].split()[0])
    past = [n for n, line in enumerate(lines) if line.startswith("step ") and int(line.split()[1].split("/")[0]) > planned]
    assert past, lines
    notes = [lines[n + 1] for n in past]
    assert all(note.startswith("  ") for note in notes)
    assert notes[-1] == "  verification: the leader beat the seed prompt on the whole pool (+8 / -0 examples) and is now the best"
    assert any(note.startswith(f"  past the plan's about {planned} steps: ") for note in notes[:-1])


def test_a_budget_too_small_for_a_step_says_what_it_covers(tmp_path, toy_provider):
    """Not "about 0 steps": the smallest budget that searches, and what this one pays for. One call less than
    that budget takes no step; that budget takes one."""
    lines = plain_run(tmp_path, "--budget", "20")
    assert lines[0].startswith("plan: 20 LM calls are too few for a search step; the run scores the seed prompt on "
                               "all 12 validation examples (12 calls) and keeps it: a budget of ")
    assert lines[0].endswith(" or more searches") and not any(line.startswith("step ") for line in lines)
    least = int(lines[0].split("a budget of ")[1].split()[0])
    assert not any(line.startswith("step ") for line in plain_run(tmp_path / "a", "--budget", str(least - 1)))
    assert any(line.startswith("step 1/") for line in plain_run(tmp_path / "b", "--budget", str(least)))
