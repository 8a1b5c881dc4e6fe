"""Synth definitions: ``synth.yaml`` (engine, parameters, mappings) and the bare-``synth.pd`` case.

A synth has N parameters, each a float in [0, 1]. ``synth.yaml`` says how each maps to a physical
value (``lin``: ``min + p * (max - min)``; ``exp``: ``min * (max / min) ** p``), and which engine
renders it: ``engine: native`` (with ``native: <engine name>``) or ``engine: pd`` (with ``pd: synth.pd``).
A folder with only ``synth.pd`` is a Pd synth with ``--params N`` generic linear parameters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pydantic

from rlimpro.config import StrictModel, load_yaml, validate
from rlimpro.errors import ConfigError, NotFoundError, ParameterError
from rlimpro.workspace import synth_source_dir


class ParamSpec(StrictModel):
    """One synth parameter: its name, unit and the map from [0, 1] to the physical range."""

    name: str
    unit: str = ""
    min: float = 0.0
    max: float = 1.0
    scale: Literal["lin", "exp"] = "lin"
    default: float = pydantic.Field(0.5, ge=0.0, le=1.0)

    @pydantic.model_validator(mode="after")
    def _check_exp(self) -> ParamSpec:
        if self.scale == "exp" and (self.min <= 0 or self.max <= 0):
            raise ValueError(f"parameter '{self.name}': an exp scale needs min and max > 0")
        return self

    def to_physical(self, p: np.ndarray | float) -> np.ndarray:
        """Map normalised values in [0, 1] to physical units (same shape)."""
        p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
        if self.scale == "exp":
            return self.min * (self.max / self.min) ** p
        return self.min + p * (self.max - self.min)


class SynthSpec(StrictModel):
    """The contents of ``synth.yaml`` (plus where it was found)."""

    description: str = ""
    engine: Literal["native", "pd"] = "native"
    native: str | None = None
    pd: str | None = None
    params: list[ParamSpec]
    min_params: int | None = None  # engines that accept fewer parameters than listed (granular)
    name: str = ""
    folder: Path | None = None

    @pydantic.model_validator(mode="after")
    def _check_engine(self) -> SynthSpec:
        if self.engine == "native" and not self.native:
            raise ValueError("engine is 'native' but no 'native: <engine name>' is given")
        if self.engine == "pd" and not self.pd:
            raise ValueError("engine is 'pd' but no 'pd: synth.pd' is given")
        if not self.params:
            raise ValueError("a synth needs at least one parameter")
        return self

    @property
    def n_params(self) -> int:
        return len(self.params)

    def with_n_params(self, n: int) -> SynthSpec:
        """This spec restricted to its first ``n`` parameters.

        Raises
        ------
        ParameterError
            ``n`` is not a parameter count this synth accepts.
        """
        lo = self.min_params or self.n_params
        if not (lo <= n <= self.n_params):
            allowed = str(self.n_params) if lo == self.n_params else f"{lo}..{self.n_params}"
            raise ParameterError(f"--params {n}: synth '{self.name}' has {allowed} parameters")
        return self.model_copy(update={"params": self.params[:n]})

    def pd_patch(self) -> Path:
        """Path of this synth's synth.pd."""
        if not self.pd or self.folder is None:
            raise NotFoundError(f"synth '{self.name}' has no Pure Data patch")
        return self.folder / self.pd


def load_spec(name: str, *, workspace: Path, n_params: int | None = None, engine: str | None = None) -> SynthSpec:
    """Find and load the definition of synth ``name``.

    Parameters
    ----------
    name : str
        Synth name: a built-in or a folder ``<workspace>/synths/<name>``.
    workspace : Path
        Workspace root.
    n_params : int, optional
        Parameter count asked for (``--params``); checked against the spec. Required for a folder that
        holds only ``synth.pd``.
    engine : {"native", "pd"}, optional
        Override the engine named in synth.yaml (built-ins ship both).

    Raises
    ------
    NotFoundError, ConfigError, ParameterError
    """
    folder = synth_source_dir(name, workspace=workspace)
    yaml_path = folder / "synth.yaml"
    if yaml_path.is_file():
        data = load_yaml(yaml_path)
        spec = validate(SynthSpec, data, source=str(yaml_path))
        spec = spec.model_copy(update={"name": name, "folder": folder})
    else:
        if n_params is None:
            raise ParameterError(
                f"synth '{name}' has a synth.pd but no synth.yaml: give its parameter count with --params N"
            )
        if n_params < 1:
            raise ParameterError(f"--params {n_params}: a synth needs at least one parameter")
        spec = SynthSpec(
            engine="pd",
            pd="synth.pd",
            params=[ParamSpec(name=f"param-{i}") for i in range(n_params)],
            name=name,
            folder=folder,
        )
    if engine is not None and engine != spec.engine:
        if engine == "pd" and not spec.pd:
            raise ParameterError(f"--engine pd: synth '{name}' has no synth.pd")
        if engine == "native" and not spec.native:
            raise ParameterError(f"--engine native: synth '{name}' has no native engine")
        spec = spec.model_copy(update={"engine": engine})
    if n_params is not None:
        spec = spec.with_n_params(n_params)
    if spec.engine == "pd" and not spec.pd_patch().is_file():
        raise NotFoundError(f"synth '{name}': {spec.pd_patch()} does not exist")
    return spec


__all__ = ["ParamSpec", "SynthSpec", "load_spec", "ConfigError"]
