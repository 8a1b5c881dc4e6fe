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
        data = yaml.safe_load(read_utf8(path)) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values, got {type(data).__name__}")
    return data


def read_utf8(path: Path) -> str:
    """The text of a UTF-8 file (a UTF-8 byte-order mark is allowed).

    Raises
    ------
    ConfigError
        The file is not UTF-8 (names the file and the first bad byte; says so for UTF-16 files).
    NotFoundError
        The file cannot be read.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise NotFoundError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ConfigError(f"{path}: the file is UTF-16 text; save it as UTF-8")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at line {line}); save the file as UTF-8"
        ) from None


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
