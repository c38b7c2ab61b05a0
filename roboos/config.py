"""Load pydantic configuration models from YAML, with ``key.path=value`` overrides from the CLI.

Errors name the file, the key and the problem (:class:`ConfigError`), e.g.
``configs/cloud.yaml: heartbeat.timeout_s: Input should be greater than 0``.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names file, key and problem."""

    def __init__(self, source: str, key: str | None, problem: str) -> None:
        self.source, self.key, self.problem = source, key, problem
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(f"{where}{problem}")


class KeyedConfigError(ValueError):
    """Raise inside a pydantic validator to name the offending key path relative to the model.

    ``raise KeyedConfigError("objects.2.location", "unknown place 'garage'")`` in a model validator of
    a model at ``scene`` is reported by :func:`validate` as key ``scene.objects.2.location``.
    """

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key, self.problem = key, problem


def builtin_config(relative: str) -> Path:
    """Path of a config file shipped with the package, e.g. ``builtin_config("cloud.yaml")``."""
    path = Path(str(resources.files("roboos.configs").joinpath(relative)))
    if not path.exists():
        raise ConfigError(relative, None, "no such built-in config file")
    return path


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; syntax errors and non-mapping documents become :class:`ConfigError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), None, f"cannot read file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), None, f"not UTF-8 text (byte {exc.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(str(path), None, f"invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), None, f"top level must be a mapping, got {type(data).__name__}")
    return data


def apply_overrides(data: dict[str, Any], overrides: Iterable[str], source: str = "--set") -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides (value parsed as YAML) to a nested dict, in place."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(source, item, "override must look like key.path=value")
        key, raw = item.split("=", 1)
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise ConfigError(source, item, "empty key")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        node: Any = data
        for part in parts[:-1]:
            if isinstance(node, list):  # an index into a list: robots.1.name=...
                node = node[_list_index(node, part, source, key)]
                continue
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, (dict, list)):
                raise ConfigError(source, key, f"'{part}' is not a mapping")
            node = child
        if isinstance(node, list):
            node[_list_index(node, parts[-1], source, key)] = value
        else:
            if not isinstance(node, dict):
                raise ConfigError(source, key, f"'{parts[-2]}' is not a mapping")
            node[parts[-1]] = value
    return data


def _list_index(items: list[Any], part: str, source: str, key: str) -> int:
    if not part.lstrip("-").isdigit() or not -len(items) <= int(part) < len(items):
        raise ConfigError(source, key, f"'{part}' is not an index of a list of {len(items)} items")
    return int(part)


def validate(model: type[M], data: dict[str, Any], source: str) -> M:
    """Validate a dict against a model; the first error becomes a :class:`ConfigError`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = [str(p) for p in err["loc"]]
        message = err["msg"]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, KeyedConfigError):
            loc, message = loc + [p for p in cause.key.split(".") if p], cause.problem
        key = ".".join(loc) or None
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise ConfigError(source, key, f"{message}{more}") from None


def load_config(model: type[M], path: str | Path | None = None, overrides: Iterable[str] = (),
                default: str | None = None) -> M:
    """Load ``model`` from ``path`` (or the built-in ``default`` file), then apply overrides."""
    if path is None and default is not None:
        path = builtin_config(default)
    data = read_yaml(path) if path is not None else {}
    apply_overrides(data, overrides)
    return validate(model, data, str(path) if path is not None else "<defaults>")
