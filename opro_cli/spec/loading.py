"""Reading a spec file: YAML in, a validated `TaskSpec` out, and every problem as 'file:line: field: message'."""

from __future__ import annotations

import re
from pathlib import Path
from collections.abc import Callable
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import InputError
from .meta_template import template_problem
from .task import TaskSpec
from .user_code import load_function, resolve_reference


def load_spec(path: str | Path) -> TaskSpec:
    """Read and validate a spec file; any problem becomes one InputError naming file, line and field."""
    path = Path(path)
    return parse_spec(read_spec(path), path)


def read_spec(path: Path) -> Any:
    """The spec file's YAML, with `optimizer.meta_prompt` replaced by the text of the file it names (a value
    without any placeholder is a path, relative to the spec), so the run and its artifact hold the text; and
    each `python` reward's file made absolute (relative to the spec) and imported, to fail before any call."""
    raw = read_yaml(path)
    raw = _with_reward_functions(raw, path)
    raw = _with_judge_texts(raw, path)
    optimizer = raw.get("optimizer") if isinstance(raw, dict) else None
    named = optimizer.get("meta_prompt") if isinstance(optimizer, dict) else None
    if not isinstance(named, str) or "{" in named:
        return raw
    line = _key_lines(path).get(("optimizer", "meta_prompt"))
    where = f"{path}:{line}: optimizer.meta_prompt" if line else f"{path}: optimizer.meta_prompt"
    file = path.parent / Path(named.strip()).expanduser()
    text = _read_text(file, f"{where}: {file}", " (a value without placeholders is read as a file path)")
    problem = template_problem(text)
    if problem:
        raise InputError(f"{where}: {file}: {problem}")
    return {**raw, "optimizer": {**optimizer, "meta_prompt": text}}


def _with_reward_functions(raw: Any, path: Path) -> Any:
    """`reward.function` (and each `reward.fields.NAME.function`) of type python, resolved against the spec's
    folder and loaded now: a file that does not import, a missing function or a wrong signature is an error
    naming the spec's line. Other shapes are left to validation; the YAML read is not changed in place."""
    return _each_reward(raw, _with_function, path)


def _with_judge_texts(raw: Any, path: Path) -> Any:
    """Each `judge` reward's `rubric` and `prompt` given as a file (one line, no placeholder, a file suffix) replaced
    by the file's text, relative to the spec; a missing file is an error naming the spec's line."""
    return _each_reward(raw, _judge_texts, path)


def _each_reward(raw: Any, change: Callable[[dict[str, Any], tuple[str, ...], Path], dict[str, Any]], path: Path) -> Any:
    """The YAML read with `change(reward, its location, path)` applied to `reward` and to each of its `fields`
    that is a mapping; other shapes are left to validation, and `raw` is not changed in place."""
    reward = raw.get("reward") if isinstance(raw, dict) else None
    if not isinstance(reward, dict):
        return raw
    reward = change(reward, ("reward",), path)
    fields = reward.get("fields")
    if isinstance(fields, dict):
        reward["fields"] = {name: change(sub, ("reward", "fields", name), path) if isinstance(sub, dict)
                            else sub for name, sub in fields.items()}
    return {**raw, "reward": reward}


_FILE_NAME = re.compile(r"^[^\s{}]+\.[A-Za-z0-9]{1,8}$")  # `rubric.md`, `prompts/judge.txt`: no spaces, a suffix


def _judge_texts(node: dict[str, Any], loc: tuple[str, ...], path: Path) -> dict[str, Any]:
    if node.get("type") != "judge":
        return dict(node)
    node = dict(node)
    for key in ("rubric", "prompt"):
        value = node.get(key)
        if not isinstance(value, str) or not _FILE_NAME.match(value.strip()):
            continue
        line = _key_lines(path).get((*loc, key))
        where = f"{path}:{line}: {'.'.join((*loc, key))}" if line else f"{path}: {'.'.join((*loc, key))}"
        file = path.parent / Path(value.strip()).expanduser()
        node[key] = _read_text(file, f"{where}: {file}", " (a one-line value ending in a suffix is read as a file)")
        if not node[key].strip():
            raise InputError(f"{where}: {file}: the file is empty")
    return node


def _with_function(node: dict[str, Any], loc: tuple[str, ...], path: Path) -> dict[str, Any]:
    """A copy of one reward, its python function (if it is one) resolved and loaded."""
    function = node.get("function")
    if node.get("type") != "python" or not isinstance(function, str) or ":" not in function:
        return dict(node)
    resolved = resolve_reference(function, path.parent)
    try:
        load_function(resolved)
    except ValueError as exc:
        line = _key_lines(path).get((*loc, "function"))
        where = f"{path}:{line}" if line else str(path)
        raise InputError(f"{where}: {'.'.join(loc)}.function: {exc}") from None
    return {**node, "function": resolved}


def parse_spec(raw: Any, path: Path) -> TaskSpec:
    if not isinstance(raw, dict):
        raise InputError(f"{path}: the spec must be a YAML mapping of fields")
    problems = spec_problems(raw, path)
    if problems:
        raise InputError(problems[0])
    return TaskSpec.model_validate(raw)


def spec_problems(raw: Any, path: Path) -> list[str]:
    """Every validation problem of a raw spec, each as 'file:line: field: message'."""
    try:
        spec = TaskSpec.model_validate(raw)
    except ValidationError as exc:
        lines = _key_lines(path)
        return [_describe(error, path, lines, raw) for error in exc.errors()]
    problems = spec.consistency_problems()
    if not problems:
        return []
    lines = _key_lines(path)
    described = []
    for loc, message in problems:
        line = _nearest_line(loc, lines)
        described.append(f"{path}:{line}: {'.'.join(loc)}: {message}" if line else f"{path}: {'.'.join(loc)}: {message}")
    return described


def _without_tags(loc: tuple[Any, ...], raw: Any) -> tuple[str | int, ...]:
    """pydantic's error location without the tags of tagged unions (`reward.numeric.abs_tol` is written
    `reward.abs_tol` in the file): a part is a tag where the input there has that `type`."""
    kept: list[str | int] = []
    node, tag_skipped = raw, False
    for part in loc:
        # The tag comes right after the union's own location, once (it may also be a key there: `fields`).
        if isinstance(part, str) and isinstance(node, dict) and node.get("type") == part and not tag_skipped:
            tag_skipped = True
            continue
        kept.append(part)
        tag_skipped = False
        node = node.get(part) if isinstance(node, dict) else node[part] if isinstance(node, list) and \
            isinstance(part, int) and part < len(node) else None
    return tuple(kept)


def _describe(error: Any, path: Path, lines: dict[tuple[str | int, ...], int], raw: Any = None) -> str:
    loc = _without_tags(tuple(error["loc"]), raw)
    field = ".".join(str(part) for part in loc) or "(top level)"
    line = _nearest_line(loc, lines)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field (check the spelling)"
    elif error["type"] == "missing":
        message = "required field is missing"
    where = f"{path}:{line}" if line else str(path)
    return f"{where}: {field}: {message}"



def _nearest_line(loc: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]) -> int | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _read_text(path: Path, where: str, hint: str = "") -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{where}: file not found{hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: cannot read: {exc}") from None


def read_yaml(path: Path) -> Any:
    text = _read_text(path, str(path))
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{where}: invalid YAML: {problem}") from None


def _key_lines(path: Path) -> dict[tuple[str | int, ...], int]:
    """Map each key path of the YAML file to its 1-based line, to point errors at the right line."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    lines: dict[tuple[str | int, ...], int] = {}

    def walk(node: yaml.Node, prefix: tuple[str | int, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                here = (*prefix, key.value)
                lines[here] = key.start_mark.line + 1
                walk(value, here)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                here = (*prefix, index)
                lines[here] = item.start_mark.line + 1
                walk(item, here)

    if root is not None:
        walk(root, ())
    return lines
