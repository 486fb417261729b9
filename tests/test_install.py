"""The install a newcomer runs first (`make demo`: `pip install -e '.[local,test]'`) prints nothing of ours, and
`pip install .` still builds the package with its `opro` command (issue 36).

setuptools' editable install of this flat layout printed a `BuildBackendWarning: Editable installation.` box
under recent pip, which shows a build backend's warnings; the backend is now flit_core (pyproject.toml). These
tests build with this interpreter's pip, offline (`--no-build-isolation --no-index`: the backend comes from the
`test` extra), into temporary directories, never into the environment running them.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
BACKEND = re.search(r'^build-backend = "([\w.]+)"', PYPROJECT, re.MULTILINE).group(1)  # type: ignore[union-attr]

# A project whose backend is ours plus one warning: shows whether this pip passes a backend's warnings on at all.
NOISY_PYPROJECT = f"""[build-system]
requires = []
build-backend = "noisy_backend"
backend-path = ["backend"]

[project]
name = "noisy"
version = "0"
description = "A backend that warns."
"""
NOISY_BACKEND = f"""import warnings
from {BACKEND} import *  # noqa: F403
from {BACKEND} import build_editable as _build_editable


def build_editable(*args, **kwargs):
    warnings.warn("a warning from the build backend")
    return _build_editable(*args, **kwargs)
"""


def pip(*args: str) -> str:
    """pip's output (stdout and stderr) for a quiet, offline build with the backend installed here."""
    command = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", *args,
               "--no-deps", "--no-build-isolation", "--no-index"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def not_pip_config(output: str) -> list[str]:
    """The lines that are not pip's own `WARNING:` lines (a machine's pip config, such as an index that is absent)."""
    return [line for line in output.splitlines() if line.strip() and not line.startswith("WARNING: ")]


def test_the_editable_install_prints_no_warning_of_the_build_backend(tmp_path):
    pytest.importorskip(BACKEND, reason=f"the build backend ({BACKEND}) comes with the `test` extra")
    noisy = tmp_path / "noisy"
    noisy.mkdir()
    (noisy / "pyproject.toml").write_text(NOISY_PYPROJECT)
    (noisy / "noisy.py").write_text('"""Nothing."""\n')
    (noisy / "backend").mkdir()
    (noisy / "backend" / "noisy_backend.py").write_text(NOISY_BACKEND)
    if "a warning from the build backend" not in pip("install", "-e", str(noisy), "--target", str(tmp_path / "n")):
        pytest.skip("this pip does not show a build backend's warnings (pip 26.3 does; `make` upgrades pip)")

    target = tmp_path / "editable"
    output = pip("install", "-e", str(ROOT), "--target", str(target))
    assert "BuildBackendWarning" not in output and not_pip_config(output) == [], output
    pth = [path.read_text() for path in target.glob("*.pth")]
    assert [line.strip() for line in "".join(pth).splitlines()] == [str(ROOT)]  # the checkout on sys.path
    (dist_info,) = target.glob("opro_cli-*.dist-info")
    assert "opro=opro_cli.cli:main" in (dist_info / "entry_points.txt").read_text().replace(" ", "")


def test_pip_install_dot_builds_a_wheel_of_the_whole_package(tmp_path):
    pytest.importorskip(BACKEND, reason=f"the build backend ({BACKEND}) comes with the `test` extra")
    output = pip("wheel", str(ROOT), "--wheel-dir", str(tmp_path))
    assert "BuildBackendWarning" not in output and not_pip_config(output) == [], output
    (wheel,) = tmp_path.glob("opro_cli-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {path.relative_to(ROOT).as_posix() for path in (ROOT / "opro_cli").rglob("*.py")}
    assert sources <= names and not any(name.startswith(("tests/", "benchmarks/")) for name in names)
    entry_points = next(name for name in names if name.endswith(".dist-info/entry_points.txt"))
    assert "opro=opro_cli.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode().replace(" ", "")
