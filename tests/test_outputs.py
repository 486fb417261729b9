"""Fail fast on outputs: every path a command will write is checked before the first LM call, and a write that
fails at the end is one line that says where the best prompt is kept."""

import pytest
from typer.testing import CliRunner

from opro_cli import optimize
from opro_cli.artifact import load_artifact
from opro_cli.cli import app
from opro_cli.errors import OutputError
from opro_cli.jobs import CallOptions
from toy_task import write_toy_task

runner = CliRunner()


@pytest.fixture
def task(tmp_path, toy_provider):
    return write_toy_task(tmp_path)


def refused(toy_provider, *args: object) -> str:
    """Run the command; it must exit 2 with one line and no LM call. Returns the line."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert toy_provider.CALLS.total == 0
    return result.output.strip()


def test_optimize_into_a_directory_stops_before_any_call(task, tmp_path, toy_provider):
    line = refused(toy_provider, "optimize", task.spec, "--data", task.train, "-o", tmp_path, "--no-cache", "-q")
    assert line == f"error: {tmp_path}: artifact is a directory; give a file name"


def test_optimize_under_a_file_stops_before_any_call(task, tmp_path, toy_provider):
    (tmp_path / "runs").write_text("a file, not a directory\n")
    line = refused(toy_provider, "optimize", task.spec, "--data", task.train, "-o", tmp_path / "runs" / "x" / "best.json",
                   "--no-cache", "-q")
    assert f"cannot write the artifact: {tmp_path / 'runs'} is not a directory" in line


def test_a_directory_where_the_checkpoint_goes_stops_before_any_call(task, tmp_path, toy_provider):
    (tmp_path / "best.json.checkpoint.json").mkdir()
    line = refused(toy_provider, "optimize", task.spec, "--data", task.train, "-o", task.artifact, "--no-cache", "-q")
    assert "checkpoint is a directory" in line


def test_missing_directories_are_created(task, tmp_path, toy_provider):
    output = tmp_path / "runs" / "today" / "best.json"
    result = runner.invoke(app, ["optimize", str(task.spec), "--data", str(task.train), "-o", str(output), "--no-cache", "-q"])
    assert result.exit_code == 0, result.output
    assert load_artifact(output).scores.best_validation == 1.0


def test_eval_results_into_a_directory_stop_before_any_call(task, tmp_path, toy_provider):
    assert runner.invoke(app, ["optimize", str(task.spec), "--data", str(task.train), "-o", str(task.artifact),
                               "--no-cache", "-q"]).exit_code == 0
    toy_provider.reset()
    (tmp_path / "out").mkdir()
    line = refused(toy_provider, "eval", task.artifact, "--data", task.test, "-o", tmp_path / "ok.jsonl", "-o",
                   tmp_path / "out", "--no-cache")
    assert line == f"error: {tmp_path / 'out'}: results file is a directory; give a file name"
    assert not (tmp_path / "ok.jsonl").exists()


def test_report_files_are_checked_first(task, tmp_path, toy_provider):
    assert runner.invoke(app, ["optimize", str(task.spec), "--data", str(task.train), "-o", str(task.artifact),
                               "--no-cache", "-q"]).exit_code == 0
    toy_provider.reset()
    line = refused(toy_provider, "report", task.artifact, "--svg", tmp_path / "c.svg", "--html", tmp_path)
    assert "HTML report is a directory" in line and not (tmp_path / "c.svg").exists()


def test_init_output_is_checked(tmp_path, toy_provider):
    (tmp_path / "specs").write_text("a file\n")
    data = tmp_path / "d.jsonl"
    data.write_text('{"q": "a", "answer": "b"}\n')
    line = refused(toy_provider, "init", "--data", data, "-o", tmp_path / "specs" / "task.yaml")
    assert "cannot write the spec" in line


def test_a_write_that_fails_at_the_end_says_where_the_best_prompt_is_kept(task, toy_provider):
    def take_the_output_path(progress):
        if progress.phase == "step done" and progress.step == progress.total_steps:
            task.artifact.mkdir()  # something else took the path while the run was going

    with pytest.raises(OutputError) as failed:
        optimize(task.spec, task.train, task.artifact, options=CallOptions(cache=False), on_progress=take_the_output_path)
    message = str(failed.value)
    checkpoint = task.artifact.with_name("best.json.checkpoint.json")
    assert "\n" not in message and message.startswith(f"{task.artifact}: cannot write")
    assert f"the best prompt (100.0% on validation) is kept in {checkpoint}" in message and "--resume" in message
    assert checkpoint.is_file()

    task.artifact.rmdir()
    toy_provider.reset()
    artifact = optimize(task.spec, task.train, task.artifact, resume=True, options=CallOptions(cache=False))
    assert toy_provider.CALLS.total == 0  # written from the checkpoint, nothing recomputed
    assert artifact.scores.best_validation == 1.0 and load_artifact(task.artifact) == artifact
    assert not checkpoint.exists()
