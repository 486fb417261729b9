"""The supported Python versions are stated once per place that needs them, and they agree: pyproject.toml
(requires-python, classifiers), the versions .ci/run tests beyond the default one, and README."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def classifier_versions() -> list[str]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return re.findall(r'"Programming Language :: Python :: (3\.\d+)"', text)


def test_pyproject_ci_and_readme_name_the_same_versions():
    versions = classifier_versions()
    minors = [int(v.split(".")[1]) for v in versions]
    assert minors == list(range(minors[0], minors[-1] + 1)), versions  # no gap
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'requires-python = ">={versions[0]}"' in pyproject
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(rf"^OLDEST={re.escape(versions[0])}\b", ci, re.MULTILINE)
    assert re.search(rf"^NEWEST={re.escape(versions[-1])}\b", ci, re.MULTILINE)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "Python " + ", ".join(versions[:-1]) + f" or {versions[-1]}" in readme
