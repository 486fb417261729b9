"""The embedded model's two engines side by side, in one run: llama-cpp-python (the provider of a baseline revision)
and xllamacpp (this tree's provider), each in a fresh virtualenv.

Figures, per engine: the engine's install time (pip, warm wheel cache: llama-cpp-python's wheel is in the cache only
because it was compiled once; on a fresh machine that compile takes 4-11 minutes on 2 cores), calls/s on
SmolLM2-135M cold (no shared prefix) and warm (instructions and shots shared, the input last, back to back), plain
and JSON-schema constrained at temperature 0, how many answers the two engines give identically, how many schema
answers are valid, and the wall time of one `opro optimize` with a small budget (same spec, seed and no cache; the
artifacts are compared too). Ratios are xllamacpp / llama-cpp-python (above 1: xllamacpp faster).

    python benchmarks/engines.py                      # 20 prompts, topic, budget 40
    python benchmarks/engines.py --prompts 40 --budget 80 --work /tmp/engines

Everything but the engine (litellm, the weights) comes from the virtualenv running this script, through a .pth
file, so the fresh virtualenvs differ in the engine alone. Run it on an idle machine: the figures are timings.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ENGINES = {"llama-cpp-python": "llama-cpp-python==0.3.36", "xllamacpp": None}  # None: this tree's pin

WORKER = r'''
import json, sys, time
from pathlib import Path
from opro_cli.lm import local_provider
import litellm
local_provider.register()
rows = [json.loads(line) for line in Path(sys.argv[1]).read_text().splitlines()]
shots, tests = rows[:3], rows[3:]
instructions = "What is the topic of this headline: sports, business, science or world? Answer with one word."
prefix = instructions + "\n\n" + "\n\n".join(f"Headline: {r['headline']}\nTopic: {r['topic']}" for r in shots)
schema = {"type": "object", "properties": {"answer": {"type": "string",
          "enum": ["sports", "business", "science", "world"]}}, "required": ["answer"]}
def ask(text, **extra):
    resp = litellm.completion(model="local/smollm2", messages=[{"role": "user", "content": text}],
                              temperature=0, max_tokens=12, **extra)
    return resp.choices[0].message.content
start = time.perf_counter(); ask("Say hi."); load = time.perf_counter() - start
out = {"load_s": load, "answers": {}, "seconds": {}}
runs = {
    "cold": lambda i, r: ask(f"Request {i}. " + prefix + f"\n\nHeadline: {r['headline']}\nTopic:"),
    "warm": lambda i, r: ask(prefix + f"\n\nHeadline: {r['headline']}\nTopic:"),
    "warm_schema": lambda i, r: ask(prefix + f"\n\nHeadline: {r['headline']}\nAnswer in JSON.", response_format=
                                    {"type": "json_schema", "json_schema": {"name": "topic", "schema": schema}}),
}
for name, run in runs.items():
    start = time.perf_counter()
    out["answers"][name] = [run(i, r) for i, r in enumerate(tests)]
    out["seconds"][name] = time.perf_counter() - start
def valid(text):
    try:
        return json.loads(text)["answer"] in schema["properties"]["answer"]["enum"]
    except Exception:
        return False
out["schema_valid"] = sum(valid(a) for a in out["answers"]["warm_schema"])
print(json.dumps(out))
'''


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, command))}\n{done.stderr.strip()[-2000:]}")
    return done


def pinned_xllamacpp() -> str:
    """The `local` extra's requirement, read from pyproject.toml so the figure is for the pinned version."""
    text = (ROOT / "pyproject.toml").read_text()
    return text.split('local = ["', 1)[1].split('"', 1)[0]


def baseline_rev() -> str:
    """The last revision whose `local` extra was llama-cpp-python: the parent of the commit that removed it."""
    removed = run(["git", "-C", str(ROOT), "log", "-1", "--format=%H", "-S", "llama-cpp-python>=0.3", "--", "pyproject.toml"])
    return removed.stdout.strip() + "^"


def code_of(rev: str, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "opro_cli"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def fresh_venv(path: Path, requirement: str) -> tuple[Path, float]:
    """A new virtualenv with the engine alone installed (timed), the rest reached through this one's site-packages."""
    run([sys.executable, "-m", "venv", str(path)])
    python = path / "bin" / "python"
    start = time.perf_counter()
    run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement])
    seconds = time.perf_counter() - start
    own = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    Path(own, "zz_outer_site.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # after its own packages
    return python, seconds


def optimize(python: Path, code: Path, work: Path, budget: int) -> tuple[dict[str, Any], float]:
    out = work / "artifact.json"
    env = {**os.environ, "PYTHONPATH": str(code), "NO_COLOR": "1"}
    command = [str(python), "-c", "from opro_cli.cli import app; app(prog_name='opro')", "optimize",
               str(ROOT / "configs" / "topic.yaml"), "--data", str(ROOT / "datasets" / "topic_train.jsonl"),
               "-o", str(out), "--no-cache", "-q", "--budget", str(budget)]
    start = time.perf_counter()
    run(command, env=env, cwd=code)
    return json.loads(out.read_text()), time.perf_counter() - start


def measure(name: str, requirement: str, code: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    print(f">>> {name}: fresh virtualenv, install {requirement}", file=sys.stderr)
    python, install_s = fresh_venv(work / "venv", requirement)
    data = work / "prompts.jsonl"
    lines = (ROOT / "datasets" / "topic_train.jsonl").read_text().splitlines()[:3]
    data.write_text("\n".join(lines + (ROOT / "datasets" / "topic_test.jsonl").read_text().splitlines()[: args.prompts]))
    env = {**os.environ, "PYTHONPATH": str(code)}
    print(f">>> {name}: {args.prompts} prompts cold, warm and schema-constrained", file=sys.stderr)
    calls = json.loads(run([str(python), "-c", WORKER, str(data)], env=env, cwd=code).stdout.strip().splitlines()[-1])
    print(f">>> {name}: opro optimize, budget {args.budget}", file=sys.stderr)
    artifact, optimize_s = optimize(python, code, work, args.budget)
    return {"install_s": install_s, "optimize_s": optimize_s, "artifact": artifact, **calls}


def report(results: dict[str, dict[str, Any]], prompts: int) -> str:
    old, new = results["llama-cpp-python"], results["xllamacpp"]
    rate = lambda r, run: prompts / r["seconds"][run]  # noqa: E731
    rows = [("install (s, warm pip cache)", old["install_s"], new["install_s"], old["install_s"] / new["install_s"]),
            ("first call incl. load (s)", old["load_s"], new["load_s"], old["load_s"] / new["load_s"])]
    for run_name in ("cold", "warm", "warm_schema"):
        rows.append((f"calls/s {run_name}", rate(old, run_name), rate(new, run_name),
                     rate(new, run_name) / rate(old, run_name)))
    rows.append(("optimize wall time (s)", old["optimize_s"], new["optimize_s"], old["optimize_s"] / new["optimize_s"]))
    lines = [f"{'figure':32} {'llama-cpp-python':>17} {'xllamacpp':>10} {'ratio':>7}"]
    lines += [f"{label:32} {a:17.2f} {b:10.2f} {r:6.2f}x" for label, a, b, r in rows]
    for run_name in ("cold", "warm", "warm_schema"):
        same = sum(a == b for a, b in zip(old["answers"][run_name], new["answers"][run_name]))
        lines.append(f"identical answers, {run_name:12} {same} of {prompts}")
    lines.append(f"schema-valid answers             {old['schema_valid']} of {prompts} / {new['schema_valid']} of {prompts}")
    keys = ("instructions", "shots", "scores")
    same = all(old["artifact"].get(k) == new["artifact"].get(k) for k in keys)
    lines.append(f"optimize artifacts (prompt, scores) identical: {'yes' if same else 'no'}; best validation "
                 f"{old['artifact']['scores']['best_validation']:.3f} / {new['artifact']['scores']['best_validation']:.3f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=20, help="test headlines per run (at most 57)")
    parser.add_argument("--budget", type=int, default=40, help="LM calls of the `opro optimize` run")
    parser.add_argument("--baseline-rev", default=None, help="revision with the llama-cpp-python provider")
    parser.add_argument("--work", type=Path, default=None, help="keep the virtualenvs and outputs here")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="opro-engines-"))
    rev = args.baseline_rev or baseline_rev()
    codes = {"llama-cpp-python": code_of(rev, work / "baseline-code"), "xllamacpp": ROOT}
    requirements = {**ENGINES, "xllamacpp": pinned_xllamacpp()}
    results = {name: measure(name, requirements[name], codes[name], work / name, args) for name in ENGINES}
    text = report(results, args.prompts)
    print(f"engines: {args.prompts} prompts (topic), optimize budget {args.budget}, baseline {rev}, {os.cpu_count()} cores")
    print(text)
    if args.json:
        figures = {name: {k: v for k, v in r.items() if k != "artifact"} for name, r in results.items()}
        args.json.write_text(json.dumps({"prompts": args.prompts, "budget": args.budget, "baseline": rev,
                                         "results": figures, "report": text}, indent=2) + "\n")


if __name__ == "__main__":
    main()
