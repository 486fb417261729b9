"""The benchmark must not rot: `benchmarks/run.py --quick` runs end to end on the real embedded model and writes
its results with every figure the full run reports (a few examples, one seed, no peers)."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(importlib.util.find_spec("xllamacpp") is None, reason="needs the 'local' extra (xllamacpp)"),
]

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmark_writes_results(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    results = json.loads((tmp_path / "results.json").read_text())
    assert {"date", "command", "machine", "versions", "settings", "startup", "tasks", "targets", "total_s"} <= results.keys()
    assert {"cpu", "cores"} <= results["machine"].keys()
    assert {"opro-cli", "litellm", "xllamacpp", "python"} <= results["versions"].keys()
    assert results["settings"]["seeds"] == [0] and not results["settings"]["peers"]
    assert {"opro_help_s", "import_opro_cli_s"} <= results["startup"].keys()
    assert {"sentiment", "topic"} <= results["tasks"].keys()
    for task in results["tasks"].values():
        (run,) = task["runs"]
        for arm in ("optimized", "shots_only", "instructions_only"):
            assert 0 <= run[arm]["test_score"] <= 1
            low, high = run[arm]["gain_ci95"]
            assert low <= run[arm]["gain_points"] <= high
        assert run["optimize"]["calls"] > 0 and 0 <= run["optimize"]["overhead_share"] < 1
        assert run["warm"]["provider_calls"] == 0 and run["warm"]["same_artifact"]
        assert {"optimized_gain_points", "calls", "wall_s", "overhead_share", "warm_speedup"} <= task["summary"].keys()
    targets = {t["target"] for t in results["targets"]}
    assert len(targets) == 5 and all("met" in t for t in results["targets"])

    markdown = (tmp_path / "results.md").read_text()
    assert "## sentiment" in markdown and "## Targets" in markdown and "--quick" in markdown
