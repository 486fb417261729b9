"""The `opro` command: a thin shell over the jobs. Each command parses its flags, calls a job and prints what it
returns (`opro_cli.reports`); user errors become one line and an exit code (`shell.user_errors`).

Modules: `shell` (the app, consoles, shared options), `optimizing` (`opro optimize`), `batching` (the `--batch` phase and dry run of eval and compare), `evaluating` (`opro eval`,
`opro compare`), `predicting` (`opro predict`), `exporting` (`opro export`), `inspecting` (`opro init`, `opro validate`, `opro report`). May import anything of opro_cli,
inside the commands (so `opro --help` starts fast); nothing imports the CLI.
"""

from __future__ import annotations

import os
import sys

from .. import event_loop
from ..errors import EXIT_INTERRUPTED
from . import evaluating, exporting, inspecting, optimizing, predicting
from .shell import app

__all__ = ["app", "main"]

# In the order `opro --help` lists them.
app.command()(inspecting.init)
app.command()(optimizing.optimize)
app.command("eval")(evaluating.eval_)
app.command()(predicting.predict)
app.command()(exporting.export)
app.command()(inspecting.validate)
app.command()(evaluating.compare)
app.command()(inspecting.report)


def main() -> None:
    """The console script: `app`. An interrupted command that leaves a call computing in a worker thread (the
    embedded model's prompt processing cannot stop mid-way) exits without waiting for it: by then the artifact,
    the checkpoint and the cache are written, and that call's answer would be discarded."""
    try:
        app()
    except SystemExit as done:
        if done.code == EXIT_INTERRUPTED and event_loop.calls_still_running():
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        raise
