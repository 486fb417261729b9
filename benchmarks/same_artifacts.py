"""Do two searches write the same artifacts? Compares the artifacts `benchmarks/seeds.py --work DIR` left for the
baseline and the new search, task by task and seed by seed, on everything but the `run` record (timestamps,
wall time, usage, versions): the prompt, its scores, the whole history and the run id.

    python benchmarks/same_artifacts.py DIR            # every TASK-baseline-SEED.json with its TASK-new-SEED.json

Prints one line per pair and a total: a restructure that changes no behaviour gives 0 changed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def reproducible(path: Path) -> dict[str, Any]:
    """The artifact without what differs between two identical runs (`Artifact.reproducible_part`); read as
    JSON, so artifacts of any version compare."""
    artifact = json.loads(path.read_text())
    artifact.pop("run", None)
    artifact.pop("versions", None)
    return artifact


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Paths where two JSON values differ (the first few)."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(a.keys() | b.keys()):
            found += differences(a.get(key), b.get(key), f"{where}.{key}")
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [where or "(root)"]


def main() -> None:
    work = Path(sys.argv[1])
    pairs = sorted(work.glob("*-baseline-*.json"))
    changed = 0
    for baseline in pairs:
        new = baseline.with_name(baseline.name.replace("-baseline-", "-new-"))
        if not new.exists():
            continue
        found = differences(reproducible(baseline), reproducible(new))
        changed += bool(found)
        print(f"{baseline.name.replace('-baseline', ''):28} {'same' if not found else 'CHANGED: ' + ', '.join(found[:4])}")
    compared = sum(1 for b in pairs if b.with_name(b.name.replace('-baseline-', '-new-')).exists())
    print(f"{compared} pairs compared, {changed} changed")


if __name__ == "__main__":
    main()
