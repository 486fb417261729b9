"""benchmarks/scale.py must not rot: --quick prints every issue-11 figure, on small sizes, against real loopback
servers (no embedded model needed)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_scale_benchmark_prints_every_figure():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scale.py"), "--quick"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout[done.stdout.index("## Scale (issue 11)"):]
    for figure in ("-j 32 adaptive", "429 share", "two deployments", "rpm", "killed", "bare litellm", "peak RSS"):
        assert figure in table, figure
    assert "identical to a healthy run: yes" in table
