"""Persistent response cache: SQLite, JSON values, no pickle. Keys never include API keys or endpoints."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..spec import ModelConfig

SCHEMA_VERSION = 1
# Answers `put_soon` holds before one transaction stores them all: a commit per answer cost ~0.1 ms of the event
# loop's thread a call under load (WAL frames for the table and its index each time), a tenth of what opro adds.
WRITE_EVERY = 0.5  # seconds
WRITE_ROWS = 256
_INSERT = "INSERT OR REPLACE INTO responses (key, value, created) VALUES (?, ?, julianday('now'))"


def default_cache_dir() -> Path:
    """$OPRO_CACHE_DIR, else the user's cache directory (XDG), so runs share one cache by default."""
    if os.environ.get("OPRO_CACHE_DIR"):
        return Path(os.environ["OPRO_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "opro-cli"


def cache_key(model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    """Hash of what determines the answer: model, messages and the answer-changing params only."""
    payload = json.dumps(
        {"v": SCHEMA_VERSION, "model": model, "messages": messages, "params": params},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def call_key(
    model: ModelConfig,
    messages: list[dict[str, str]],
    *,
    response_format: dict[str, Any] | None = None,
    seed: int | None = None,
    temperature: float | None = None,
) -> tuple[str, dict[str, Any]]:
    """The cache key of a call and the params that change its answer: one rule for live calls and batch lines."""
    params = model.answer_params()
    if temperature is not None:
        params["temperature"] = temperature
    if seed is not None:
        params["seed"] = seed
    if response_format is not None:
        params["response_format"] = response_format
    return cache_key(model.name, messages, params), params


class ResponseCache:
    """One SQLite file, readable by its owner only; safe to share between processes (WAL).

    SQLite gives its -wal and -shm files the database file's permissions, so they are private too."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "responses.sqlite3"
        self._pending: dict[str, str] = {}  # key -> JSON value, stored at the next `flush`
        self._oldest = 0.0  # when the oldest pending answer came
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            _create_private(self.path)
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # No fsync per answer (0.5 ms -> 0.02 ms a write here): WAL stays consistent after a crash of the
            # process; only an OS crash can lose the last answers, which are then asked again.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)"
            )
        except (OSError, sqlite3.Error) as exc:
            raise _unusable(self.path, exc) from None

    def get(self, key: str) -> dict[str, Any] | None:
        if self._pending and (value := self._pending.get(key)) is not None:
            return json.loads(value)
        try:
            row = self._db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
            return json.loads(row[0]) if row else None
        except (sqlite3.Error, ValueError) as exc:
            raise _unusable(self.path, exc) from None

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store an answer now (in its own transaction): other processes see it at once."""
        self._pending.pop(key, None)
        try:
            self._db.execute(_INSERT, (key, json.dumps(value)))
        except sqlite3.Error as exc:
            raise _unusable(self.path, exc) from None

    def put_soon(self, key: str, value: dict[str, Any]) -> None:
        """Store an answer with the others that came within `WRITE_EVERY` seconds (at most `WRITE_ROWS`), in one
        transaction; `get` sees it at once. The caller flushes when it goes idle (`LM` does after its last call
        in flight), so only a process killed mid-run loses answers: the last half second's, asked again."""
        if not self._pending:
            self._oldest = time.monotonic()
        self._pending[key] = json.dumps(value)
        if len(self._pending) >= WRITE_ROWS or time.monotonic() - self._oldest >= WRITE_EVERY:
            self.flush()

    def flush(self) -> None:
        """Store the answers `put_soon` holds, in one transaction."""
        if not self._pending:
            return
        rows, self._pending = list(self._pending.items()), {}
        try:
            with self._db:  # BEGIN ... COMMIT, or ROLLBACK on an error
                self._db.execute("BEGIN")
                self._db.executemany(_INSERT, rows)
        except sqlite3.Error as exc:
            raise _unusable(self.path, exc) from None

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._db.close()


def _create_private(path: Path) -> None:
    """Create the file with mode 0600 from the start (no window where others can read it); tighten an
    existing one that is group- or world-readable."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)


def _unusable(path: Path, exc: Exception) -> InputError:
    return InputError(f"{path}: cannot use the response cache ({exc}); delete it, or use --cache-dir or --no-cache")
