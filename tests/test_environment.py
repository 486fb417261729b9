"""The environment the CLI runs in: a .env file (opro_cli/envfile.py) and NO_COLOR (opro_cli/terminal.py)."""

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from opro_cli.cli import app
from opro_cli.envfile import EnvFile, load_env_file
from toy_task import write_toy_task

runner = CliRunner()


@pytest.fixture
def restore_environ():
    """The CLI writes .env variables into os.environ: put it back as it was after the test."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_dot_env_understands_the_common_forms(tmp_path, monkeypatch, restore_environ):
    text = """
# a comment
PLAIN=value
export EXPORTED = spaced value   # trailing comment
SINGLE='single # not a comment'
DOUBLE="line\\nbreak and \\"quotes\\""
URL=https://example.test/#fragment
EMPTY=
not an assignment
EXPANDED=${PLAIN}-${HOME_FOR_TEST}
"""
    names = ["PLAIN", "EXPORTED", "SINGLE", "DOUBLE", "URL", "EMPTY", "EXPANDED"]
    for name in names:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME_FOR_TEST", "/home/x")
    (tmp_path / ".env").write_text(text)
    loaded = load_env_file(tmp_path / ".env")
    assert loaded.added == names and loaded.unreadable_lines == [9]
    assert {name: os.environ[name] for name in names} == {
        "PLAIN": "value",
        "EXPORTED": "spaced value",
        "SINGLE": "single # not a comment",
        "DOUBLE": 'line\nbreak and "quotes"',
        "URL": "https://example.test/#fragment",
        "EMPTY": "",
        "EXPANDED": "value-/home/x",
    }


def test_variables_already_set_win_and_a_missing_file_is_fine(tmp_path, monkeypatch, restore_environ):
    env_file = tmp_path / ".env"
    env_file.write_text("A=from-file\nB=from-file\nC=${A}\n")
    monkeypatch.setenv("A", "from-environment")
    monkeypatch.delenv("B", raising=False)
    monkeypatch.delenv("C", raising=False)
    assert load_env_file(env_file).added == ["B", "C"]
    assert (os.environ["A"], os.environ["B"], os.environ["C"]) == ("from-environment", "from-file", "from-environment")
    assert load_env_file(tmp_path / "none") == EnvFile()


def test_the_cli_reads_dot_env_in_the_working_directory(tmp_path, monkeypatch, toy_provider, restore_environ):
    task = write_toy_task(tmp_path)
    from artifact_factory import ONE_WORD, make_artifact

    make_artifact(task.spec, task.artifact, ONE_WORD)
    (tmp_path / ".env").write_text("export OPRO_CACHE_DIR=./cache-from-dotenv\nOPENAI_API_KEY sk-no-equals-sign\n")
    os.environ.pop("OPRO_CACHE_DIR", None)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["eval", str(task.artifact), "--data", str(task.test), "-q"])
    assert result.exit_code == 0, result.output
    assert "note: .env:2: not a KEY=VALUE line, ignored" in result.output and "sk-no" not in result.output
    assert (tmp_path / "cache-from-dotenv" / "responses.sqlite3").exists()


def test_an_environment_variable_set_by_the_caller_beats_dot_env(tmp_path, monkeypatch, toy_provider, restore_environ):
    task = write_toy_task(tmp_path)
    from artifact_factory import ONE_WORD, make_artifact

    make_artifact(task.spec, task.artifact, ONE_WORD)
    (tmp_path / ".env").write_text("OPRO_CACHE_DIR=./ignored\n")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["eval", str(task.artifact), "--data", str(task.test), "-q"],
                           env={"OPRO_CACHE_DIR": str(tmp_path / "wins")})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "wins" / "responses.sqlite3").exists() and not (tmp_path / "ignored").exists()


def test_no_color_gives_plain_output_even_when_color_is_forced(tmp_path, toy_provider):
    task = write_toy_task(tmp_path)
    from artifact_factory import ONE_WORD, make_artifact

    make_artifact(task.spec, task.artifact, ONE_WORD)
    args = ["eval", str(task.artifact), "--data", str(task.test), "--no-cache", "--baseline"]
    forced = runner.invoke(app, args, env={"FORCE_COLOR": "1", "NO_COLOR": None})
    assert forced.exit_code == 0 and "\x1b[" in forced.output  # the check below can see escapes
    plain = runner.invoke(app, args, env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert plain.exit_code == 0 and "score" in plain.output
    assert "\x1b[" not in plain.output
    error = runner.invoke(app, ["eval", str(tmp_path / "none.json"), "--data", str(task.test)],
                          env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert error.exit_code == 2 and "\x1b[" not in error.output


def test_help_is_plain_under_no_color_and_does_not_import_litellm():
    code = ("import sys\nfrom opro_cli.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('litellm' in sys.modules)")
    env = {**os.environ, "FORCE_COLOR": "1", "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert "Exit codes: 0 success; 1 quality gate failed" in " ".join(done.stdout.split())
    assert "\x1b[" not in done.stdout and done.stdout.strip().endswith("False")
    env.pop("NO_COLOR")
    colored = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert "\x1b[" in colored.stdout
