"""A `.env` file in the working directory, read into the environment before a command runs.

Provider keys stay where litellm looks for them (`OPENAI_API_KEY` ...); `.env` is only a convenience for
putting them there. Variables already set always win, so CI secrets cannot be shadowed by a stray file.
python-dotenv reads the file (`KEY=VALUE`, `export KEY=VALUE`, `#` comments, quotes, `${VAR}` expansion), so it
means what it means to every other tool that reads one; a line it cannot read is reported, never fatal.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class EnvFile:
    """What reading a `.env` file did: the variables it set, and the lines it could not read (1-based)."""

    added: list[str] = field(default_factory=list)
    unreadable_lines: list[int] = field(default_factory=list)


class _UnreadableLines(logging.Handler):
    """python-dotenv logs each line it cannot parse; collected here, so the CLI says it in its own words."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        found = re.search(r"could not parse statement starting at line (\d+)", record.getMessage())
        if found:
            self.lines.append(int(found.group(1)))


def load_env_file(path: str | Path = ".env") -> EnvFile:
    """Set the file's variables that are not set yet. A missing or undecodable file is not an error."""
    path = Path(path)
    if not path.is_file():
        return EnvFile()
    from dotenv import load_dotenv  # only when there is a file: the command line starts without it

    before = set(os.environ)
    logger, unreadable = logging.getLogger("dotenv.main"), _UnreadableLines()
    logger.addHandler(unreadable)
    try:
        load_dotenv(path, override=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return EnvFile()
    finally:
        logger.removeHandler(unreadable)
    return EnvFile([name for name in os.environ if name not in before], unreadable.lines)
