"""Atomic file writes: a reader (or a crash) never sees half a file, and an old file survives a failed write."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def write_atomic(path: str | Path, text: str) -> None:
    """Write to a temp file in the same directory, fsync, then rename over the target. The file gets the
    usual permissions (0666 minus the umask), not mkstemp's owner-only ones: artifacts are meant to be shared."""
    with write_atomic_stream(path) as handle:
        handle.write(text)


@contextmanager
def write_atomic_stream(path: str | Path) -> Iterator[IO[str]]:
    """`write_atomic` for a file written piece by piece (large results): renamed into place only when the
    block ends without an error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
