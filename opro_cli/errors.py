"""One error family for everything a user can cause or fix.

The CLI maps each family to a stable exit code and prints one line; any other exception is a bug.
"""

from __future__ import annotations

# Stable, documented exit codes.
EXIT_OK = 0
EXIT_QUALITY_GATE = 1
EXIT_BAD_INPUT = 2
EXIT_PROVIDER = 3
EXIT_INTERRUPTED = 130


class OproError(Exception):
    """Base of all user-facing errors; its message is shown as is."""

    exit_code = EXIT_BAD_INPUT


class InputError(OproError):
    """A file, spec field, data line or flag is wrong; the message names where."""

    exit_code = EXIT_BAD_INPUT


class UserCodeError(InputError):
    """The user's own code (a `python` reward) failed or returned something unusable; `details` holds its
    traceback frames, shown under the one-line message."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


class OutputError(OproError):
    """A file cannot be written where the user asked (a directory, no such or unwritable directory)."""

    exit_code = EXIT_BAD_INPUT


class ExportRefused(InputError):
    """An export format cannot carry the prompt exactly (the message says why, and on which row): nothing is
    written, since an app loading it would send another prompt than the one measured."""


class ProviderError(OproError):
    """The LM provider refused for good (bad key, unknown model, bad request): retrying cannot help."""

    exit_code = EXIT_PROVIDER


class MissingExtraError(ProviderError):
    """An optional dependency (e.g. the `local` extra) is needed for this model but not installed."""


class QualityGateError(OproError):
    """A score is below the threshold the user set (`--min-score`, `--fail-if-worse`)."""

    exit_code = EXIT_QUALITY_GATE


class BudgetExhausted(OproError):
    """The call or cost budget is spent; the trainer stops cleanly and keeps the best prompt so far."""

    exit_code = EXIT_OK
