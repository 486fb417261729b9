"""Output files: checked before a run spends anything, then written atomically (a reader, or a crash, never
sees half a file, and an old file survives a failed write)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

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
    _publish(Path(path), text, os.replace)


def write_new(path: str | Path, text: str) -> None:
    """Write a file that must not exist yet, atomically: the temp file is hard-linked to the name, which fails
    if the name is taken, so an existing file is never overwritten (not even by a race)."""
    _publish(Path(path), text, os.link)


def _publish(path: Path, text: str, move: Callable[[str, Path], None]) -> None:
    """Create missing directories, write a temp file next to `path`, fsync it, then `move` it into place. The
    file gets the usual permissions (0666 minus the umask), not mkstemp's owner-only ones: artifacts are shared."""
    tmp = None
    try:
        path.absolute().parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.absolute().parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
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
