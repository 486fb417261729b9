"""Output files: checked before a run spends anything, then written atomically (a reader, or a crash, never
sees half a file, and an old file survives a failed write)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .errors import OutputError


def check_writable(path: str | Path, what: str) -> None:
    """Fail now, not after an hour of LM calls, if `path` cannot be written later: it is a directory, or its
    nearest existing ancestor is not a writable directory (missing directories are created when writing)."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: {what} is a directory; give a file name")
    if path.exists() and not path.is_file():
        raise OutputError(f"{path}: {what} exists and is not a regular file")
    ancestor = path.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"{path}: cannot write the {what}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write the {what}: no permission to write in {ancestor}")


def write_atomic(path: str | Path, text: str) -> None:
    """Write to a temp file in the same directory, then rename it over the target. Any failure is one
    OutputError naming the file, and the old file (if any) is left as it was."""
    with _publishing(Path(path), os.replace) as handle:
        handle.write(text)


@contextmanager
def write_atomic_stream(path: str | Path) -> Iterator[IO[str]]:
    """`write_atomic` for a file written piece by piece (large results): renamed into place only when the
    block ends without an error."""
    with _publishing(Path(path), os.replace) as handle:
        yield handle


def write_new(path: str | Path, text: str) -> None:
    """Write a file that must not exist yet, atomically: the temp file is hard-linked to the name, which fails
    if the name is taken, so an existing file is never overwritten (not even by a race)."""
    with _publishing(Path(path), os.link) as handle:
        handle.write(text)


@contextmanager
def _publishing(path: Path, move: Callable[[str, Path], None]) -> Iterator[IO[str]]:
    """Create missing directories, give a temp file next to `path` to write, fsync it, then `move` it into place.
    The file gets the usual permissions (0666 minus the umask), not mkstemp's owner-only ones: artifacts are
    shared."""
    tmp = None
    try:
        path.absolute().parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.absolute().parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        move(tmp, path)
    except FileExistsError:
        raise OutputError(f"{path}: already exists; it is never overwritten (choose another name)") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


class PartialLines:
    """A JSONL output written line by line to `NAME.partial` beside it and renamed into place when complete, so
    a reader never takes an interrupted file for a finished one, and the same command with `resume` carries on
    where it stopped: only whole lines count (a line cut by a kill is dropped), and `identity` (what the lines
    were made from) must match the one the file was begun with."""

    FLUSH_EVERY = 0.5  # seconds: one write a line would cost more than the line itself

    def __init__(self, path: str | Path, identity: dict[str, object], resume: bool) -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.state = self.path.with_name(self.path.name + ".partial.json")
        self._clock = time.monotonic
        self._flushed = self._clock()
        if self.partial.exists() and not resume:
            raise OutputError(f"{self.partial}: an interrupted run left {self._whole_lines()} lines here; add "
                              "--resume to finish it, or delete it to start over")
        self.done = 0
        if resume and self.partial.exists():
            begun = json.loads(self.state.read_text(encoding="utf-8")) if self.state.exists() else None
            if begun != identity:
                changed = sorted(k for k in identity if (begun or {}).get(k) != identity[k]) if begun else ["state"]
                raise OutputError(f"{self.partial}: begun with another {', '.join(changed)}; run the command it was "
                                  "begun with, or delete it to start over")
            self.done = self._whole_lines(truncate=True)
        else:
            self.path.absolute().parent.mkdir(parents=True, exist_ok=True)
            self.partial.write_bytes(b"")
            write_atomic(self.state, json.dumps(identity, sort_keys=True) + "\n")
        self._file = self.partial.open("a", encoding="utf-8")

    def _whole_lines(self, truncate: bool = False) -> int:
        """Complete lines in the partial file; with `truncate`, a last line a kill cut short is removed."""
        size = whole = count = 0
        with self.partial.open("rb") as handle:
            for line in handle:
                size += len(line)
                if line.endswith(b"\n"):
                    whole, count = size, count + 1
        if truncate and whole != size:
            os.truncate(self.partial, whole)
        return count

    def write(self, line: str) -> None:
        self._file.write(line + "\n")
        self.done += 1
        if self._clock() - self._flushed >= self.FLUSH_EVERY:
            self._file.flush()
            self._flushed = self._clock()

    def close(self) -> None:
        """Stop writing; the partial file stays for a resume."""
        if not self._file.closed:
            self._file.flush()
            self._file.close()

    def finish(self) -> None:
        """Every line written: the file takes its name (atomically) and the partial state goes."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.partial, self.path)
        self.state.unlink(missing_ok=True)
