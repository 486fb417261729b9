"""The prompt as a new version of a chat prompt in MLflow's prompt registry, which apps pull by name and alias
(`mlflow.genai.load_prompt("prompts:/NAME@production")`).

The version holds the messages with `{{field}}` placeholders, the response schema as `response_format`, and in
`model_config` the model and parameters as keyword arguments of `litellm.completion` (MLflow keeps keys it does
not know, such as `model` and `stop`, as they are), so an app sends
`litellm.completion(messages=prompt.format(**row), response_format=prompt.response_format, **prompt.model_config)`:
the scored request. Tags say where it comes from (run id, task, scores, data hashes).

Before anything is registered, MLflow's own `PromptVersion.format` fills the version for every check row and must
give back the scored messages (a prompt whose text holds `{{name}}`, or `{%` and `%}`, which make MLflow run the
whole prompt as Jinja2, is refused). The tracking URI is MLflow's: `MLFLOW_TRACKING_URI`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from .exports import CheckRow, mismatch, provenance, refuse, scored_params, unrenderable
from .loaded import LoadedPrompt

FORMAT = "mlflow"
INSTALL = "pip install 'opro-cli[mlflow]'"


@dataclass(frozen=True)
class Registered:
    """What was registered: the prompt's name, the new version, the alias moved to it, and where."""

    name: str
    version: int
    alias: str | None
    uri: str
    checked: int  # rows whose messages MLflow's format() gave back exactly
    reused: bool = False  # the latest version held this very prompt already: no new version was made

    @property
    def reference(self) -> str:
        return f"prompts:/{self.name}@{self.alias}" if self.alias else f"prompts:/{self.name}/{self.version}"


def import_mlflow() -> Any:
    """MLflow, or one line saying what to install."""
    try:
        import mlflow
        import mlflow.genai  # noqa: F401 - the prompt registry
    except ImportError:
        raise InputError(f"--to mlflow needs MLflow, which is not installed: {INSTALL}") from None
    return mlflow


def version_parts(p: LoadedPrompt, test: dict[str, Any] | None = None) -> dict[str, Any]:
    """The arguments of `mlflow.genai.register_prompt` (all but the name)."""
    params = scored_params(p)
    response_format = params.pop("response_format", None)
    record = provenance(p, test)
    return {
        "template": p.template_messages(),
        "response_format": response_format,
        "model_config": {"model": p.model.name, **params},
        "tags": tags(record, p),
        "commit_message": f"opro-cli run {record['run_id']} ({record['task']})",
    }


def tags(record: dict[str, Any], p: LoadedPrompt) -> dict[str, str]:
    """The version's tags: strings, one fact each, under `opro.`."""
    found: dict[str, Any] = {"run_id": record["run_id"], "task": record["task"], "model": record["model"],
                             "exported_by": record["exported_by"], **record["data"]}
    for name in ("validation", "test"):
        for key, value in (record.get(name) or {}).items():
            found[f"{name}_{key}"] = value
    fmt = p.fmt
    found["answer"] = {"json": fmt.json_mode, "type": fmt.type, "choices": list(fmt.choices),
                       "fields": dict(fmt.fields),
                       "outputs": [{"name": o.name, "type": o.type, "choices": list(o.choices)} for o in fmt.outputs]}
    found["input_fields"] = list(p.input_fields)
    return {f"opro.{k}": v if isinstance(v, str) else json.dumps(v) for k, v in found.items() if v is not None}


def check(parts: dict[str, Any], p: LoadedPrompt, rows: Iterable[CheckRow], name: str = "check") -> int:
    """Fill the version with MLflow's own `format()` for every row, before registering, and compare with the scored
    messages, model and parameters; the first that differs is refused."""
    from mlflow.entities.model_registry import PromptVersion

    version = PromptVersion(name, 1, parts["template"], response_format=parts["response_format"],
                            model_config=parts["model_config"])
    return check_version(version, p, rows)


def check_version(version: Any, p: LoadedPrompt, rows: Iterable[CheckRow]) -> int:
    params = scored_params(p)
    if version.response_format != params.get("response_format"):
        raise refuse(FORMAT, "response_format", "MLflow does not give back the scored response schema")
    config = dict(version.model_config or {})
    wanted = {k: v for k, v in params.items() if k != "response_format"}
    if config.pop("model", None) != p.model.name or config != wanted:
        raise refuse(FORMAT, "model_config", "MLflow does not give back the scored model and parameters")
    count = 0
    for item in rows:
        want = p.messages(item.row)
        try:
            got = version.format(**item.row)
        except Exception as exc:  # noqa: BLE001 - whatever MLflow raises, the version cannot carry the prompt
            failure = f"MLflow cannot fill it ({str(exc).strip()[:200]})"
            raise unrenderable(FORMAT, want, item.where, _why, failure) from None
        if got != want:
            raise mismatch(FORMAT, got, want, item.where, _why)
        count += 1
    return count


def register(p: LoadedPrompt, name: str, alias: str | None, rows: Iterable[CheckRow],
             test: dict[str, Any] | None = None) -> Registered:
    """Check, then register a new version of prompt `name` (and move `alias` to it), then load it back from the
    store and check it again."""
    mlflow = import_mlflow()
    parts = version_parts(p, test)
    checked = check(parts, p, rows, name)
    where = public_uri(mlflow.get_registry_uri())
    failure = mlflow.exceptions.MlflowException
    try:
        latest = mlflow.genai.load_prompt(f"prompts:/{name}@latest", allow_missing=True)
        reused = latest is not None and _same(latest, parts)
        if reused:  # the same prompt again (a regeneration that changed nothing): its tags brought up to date
            for key, value in parts["tags"].items():
                mlflow.genai.set_prompt_version_tag(name, latest.version, key, value)
        version = int((latest if reused else mlflow.genai.register_prompt(name=name, **parts)).version)
    except failure as exc:
        raise InputError(f"MLflow ({where}): {_first_line(exc)}") from None
    try:
        if alias:
            mlflow.genai.set_prompt_alias(name, alias=alias, version=version)
        loaded = mlflow.genai.load_prompt(f"prompts:/{name}/{version}")
    except failure as exc:
        raise InputError(f"MLflow ({where}): version {version} of {name!r} was registered, "
                         f"but: {_first_line(exc)}") from None
    check_version(loaded, p, [CheckRow(f"version {version} as stored", {f: f"a row's {f}" for f in p.input_fields})])
    return Registered(name, version, alias, where, checked, reused)


def public_uri(uri: str) -> str:
    """The store's URI as it may be printed: without a user, password or query (which can hold a token)."""
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    if "@" not in parts.netloc and not parts.query:
        return uri
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}"


def _same(version: Any, parts: dict[str, Any]) -> bool:
    """Whether a stored version holds this prompt: the messages, the schema, the model and its parameters."""
    return (version.template, version.response_format, version.model_config) == (
        parts["template"], parts["response_format"], parts["model_config"])


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _why(content: str) -> str:
    if "{%" in content and "%}" in content:
        return "holds {% and %}, which make MLflow run the whole prompt as a Jinja2 template"
    if "{{" in content:
        return "holds a {{name}} of its own, which MLflow's format() takes for a placeholder"
    return ""
