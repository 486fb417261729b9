"""`opro eval --batch` against the live path (issue 28), side by side in one run, on loopback: the same 20,000
examples scored through one provider batch (tests/batch_server.py: the OpenAI files and batches endpoints,
answering from the toy model, in its own process) and through live calls at -j 16 (the same server's chat
endpoint). For each: HTTP requests the server received, bytes uploaded (the batch's input file), wall time,
and the score, which must be the same. A third run of the batch path finds every answer in the cache.

    .venv/bin/python benchmarks/batch.py                     # ~2-4 min (the live path is most of it)
    .venv/bin/python benchmarks/batch.py --examples 2000     # quicker
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["OPRO_BATCH_POLL"] = "0.25"

import toy_model  # noqa: E402
from artifact_factory import ONE_WORD, make_artifact  # noqa: E402
from server_task import KEY, KEY_ENV, write_server_task  # noqa: E402
from toy_task import write_rows  # noqa: E402

os.environ.setdefault(KEY_ENV, KEY)


def _serve(conn: Any) -> None:
    from batch_server import BatchServer

    server = BatchServer(steps=3, auth_token=KEY).start()
    conn.send(server.url)
    while True:
        command = conn.recv()
        if command == "stats":
            conn.send({"requests": server.requests, "chat": server.served, "uploads": server.uploads,
                       "uploaded_bytes": server.uploaded_bytes, "batches": server.batches_created})
        elif command == "reset":
            server.reset_counters()
            server.uploads = server.uploaded_bytes = server.batches_created = 0
            conn.send(None)
        else:
            server.stop()
            conn.send(None)
            return


class Server:
    """The batch server in a child process, so its threads do not share the client's GIL."""

    def __init__(self) -> None:
        self._conn, child = multiprocessing.Pipe()
        self._process = multiprocessing.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        self.url = self._conn.recv()

    def ask(self, command: str) -> Any:
        self._conn.send(command)
        return self._conn.recv()


def run(artifact: Path, data: Path, cache: Path, batch: bool, concurrency: int) -> dict[str, Any]:
    """`opro eval` (with --batch or not) as the CLI runs it, through the jobs API; seconds and the result."""
    from opro_cli.artifact import load_artifact
    from opro_cli.data import scan_dataset
    from opro_cli.jobs import CallOptions, evaluate
    from opro_cli.jobs.batching import eval_runs, run_batch
    from opro_cli.lm.batch_run import BatchOptions

    started = time.perf_counter()
    loaded = load_artifact(artifact)
    lm = CallOptions(cache_dir=cache, concurrency=concurrency, retries=30).make_lm(concurrency)
    dataset = scan_dataset(data, loaded.task_spec())
    outcome = None
    if batch:
        outcome = run_batch(lm, eval_runs(loaded, dataset, None, lm, False),
                            BatchOptions(state=cache.parent / "state.json", poll=0.25, poll_max=1.0))
    result = evaluate(loaded, dataset, lm=lm)
    seconds = time.perf_counter() - started
    rewards = list(result.rewards)
    result.rows.close()
    return {"seconds": seconds, "score": sum(rewards) / len(rewards), "rewards": rewards, "usage": lm.usage,
            "outcome": outcome}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20_000)
    parser.add_argument("--concurrency", "-j", type=int, default=16)
    args = parser.parse_args()
    import litellm  # noqa: F401 - imported before the clocks start, for both paths alike

    server = Server()
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        task = write_server_task(work, server, timeout=10.0)
        write_rows(task.test, toy_model.synthetic_reviews(args.examples, 21))
        make_artifact(task.spec, task.artifact, ONE_WORD)
        figures = {}
        for name, batch, cache in (("batch", True, "cache-batch"), ("batch again", True, "cache-batch"),
                                   ("live", False, "cache-live")):
            server.ask("reset")
            figures[name] = {**run(task.artifact, task.test, work / cache, batch, args.concurrency), **server.ask("stats")}
    server.ask("stop")
    b, again, live = figures["batch"], figures["batch again"], figures["live"]
    assert b["rewards"] == live["rewards"], "batch and live answers must score the same"
    print(f"\n{args.examples} examples, loopback, -j {args.concurrency} for the live path (measured on this machine now)")
    print(f"  {'':<12} {'HTTP requests':>14} {'uploaded':>10} {'wall':>8}  answers (batch / cache / live)   score")
    for name, f in figures.items():
        u = f["usage"]
        live_answers = args.examples - u.batch_answers - u.cached_calls
        print(f"  {name:<12} {f['requests']:>14,} {f['uploaded_bytes'] / 1e6:>8.1f}MB {f['seconds']:>7.1f}s  "
              f"{u.batch_answers:>6} / {u.cached_calls:>6} / {live_answers:>6}        {f['score']:.1%}")
    print(f"  batch / live: {b['requests'] / live['requests']:.4f}x the requests, {b['seconds'] / live['seconds']:.2f}x the wall time "
          f"(the server answers a batch at once; a real provider takes minutes to hours)")
    print(f"  batches: {b['batches']} ({b['uploads']} input file); second run: {again['requests']} requests")


if __name__ == "__main__":
    main()
