"""YAML loading with schemas: every error names the key and the file, all errors reported at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from rlimpro.errors import ConfigError, NotFoundError

M = TypeVar("M", bound=pydantic.BaseModel)


class StrictModel(pydantic.BaseModel):
    """Base for every schema: unknown keys are errors, values are validated on assignment."""

    model_config = pydantic.ConfigDict(extra="forbid", validate_assignment=True)


def load_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping.

    Raises
    ------
    NotFoundError
        The file does not exist.
    ConfigError
        The file is not valid YAML or not a mapping (names the file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values, got {type(data).__name__}")
    return data


_MAX_INPUT = 40  # characters of an offending value quoted in a message


def format_validation_error(exc: pydantic.ValidationError, *, source: str) -> str:
    """One line per error in ``exc``: ``source: [key] message (got value)``.

    A check across several keys names no single key (``[config]``) and quotes no value (the value
    would be the whole config); a long value is cut to :data:`_MAX_INPUT` characters.
    """
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "config"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif "input" in err and err["type"] != "missing" and not isinstance(err["input"], dict):
            value = repr(err["input"])
            msg = f"{msg} (got {value if len(value) <= _MAX_INPUT else value[: _MAX_INPUT - 1] + '…'})"
        lines.append(f"{source}: [{key}] {msg}")
    return "\n".join(lines)


def validate(model: type[M], data: dict[str, Any], *, source: str) -> M:
    """Validate ``data`` against ``model``; errors become one :class:`ConfigError` naming ``source``."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source=source)) from exc


def load_model(model: type[M], path: Path) -> M:
    """Load a YAML file and validate it against ``model``."""
    return validate(model, load_yaml(path), source=str(path))
