"""The user's own reward function (`reward: {type: python, function: file.py:name}`): imported from its file and
checked when the spec is loaded, so a file that does not import, a missing function or a wrong signature is one
clear error before any call. The function is the user's code: it runs in this process, with the user's rights."""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

UserReward = Callable[[Any, Any, dict[str, Any]], Any]


def split_reference(reference: str) -> tuple[Path, str]:
    """`path/to/file.py:name` as (path, name)."""
    path, _, name = reference.rpartition(":")
    return Path(path), name


def resolve_reference(reference: str, base: Path) -> str:
    """The reference with its path made absolute against `base` (the spec's folder)."""
    path, name = split_reference(reference)
    return f"{(base / path.expanduser()).resolve()}:{name}"


@lru_cache(maxsize=None)
def load_function(reference: str) -> UserReward:
    """The function a resolved reference names; ValueError (one line) when it cannot be used. Each file is
    imported once per process."""
    path, name = split_reference(reference)
    if not path.is_file():
        raise ValueError(f"{path}: file not found")
    module_name = f"opro_user_reward_{abs(hash(str(path)))}"
    loader = importlib.util.spec_from_file_location(module_name, path)
    if loader is None or loader.loader is None:
        raise ValueError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(loader)
    sys.modules[module_name] = module
    try:
        loader.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - any failure of the user's module is theirs to see, in one line
        del sys.modules[module_name]
        where = _user_line(exc, path)
        raise ValueError(f"{path}{where}: does not import: {type(exc).__name__}: {exc}") from None
    function = getattr(module, name, None)
    if function is None:
        raise ValueError(f"{path}: has no function {name!r}")
    if not callable(function):
        raise ValueError(f"{path}: {name} is not a function")
    try:
        inspect.signature(function).bind(None, None, {})
    except TypeError:
        raise ValueError(f"{path}: {name}{inspect.signature(function)} must take (answer, expected, example)") from None
    except ValueError:  # builtins without a signature: let the call tell
        pass
    return function


def _user_line(exc: BaseException, path: Path) -> str:
    """':LINE' of the innermost frame in the user's file, if any."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if Path(frame.filename) == path]
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f":{exc.lineno}"
    return f":{frames[-1].lineno}" if frames else ""
