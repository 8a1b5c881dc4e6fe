"""Synth definitions: ``synth.yaml`` (engine, parameters, mappings) and the bare-``synth.pd`` case.

A synth has N parameters, each a float in [0, 1]. ``synth.yaml`` says how each maps to a physical
value (``lin``: ``min + p * (max - min)``; ``exp``: ``min * (max / min) ** p``), and which engine
renders it: ``engine: <name>`` from :mod:`rlimpro.synths.registry`, with the engine's source under a
key of the same name: ``native: fm``, ``pd: synth.pd``, ``faust: synth.dsp``, ``csound: synth.csd``,
``supercollider: synth.scsyndef``, ``midi: {ccs: [74, 71], channel: 1}``. A synth may list several
sources (the built-ins do); ``--engine`` picks another than ``engine:``.

A folder without synth.yaml is recognised by its source file (:data:`BARE_SOURCES`): ``synth.pd`` and
``synth.csd`` take ``--params N`` generic linear parameters; ``synth.dsp`` and ``synth.scsyndef`` list
their own controls.
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


#: Source files that make a folder a synth without synth.yaml, and their engines (first match wins).
BARE_SOURCES: dict[str, str] = {
    "synth.pd": "pd",
    "synth.dsp": "faust",
    "synth.csd": "csound",
    "synth.scsyndef": "supercollider",
    "synth.scd": "supercollider",
}

#: synth.yaml keys naming each engine's source (the key is the engine's name).
SOURCE_EXAMPLES: dict[str, str] = {
    "native": "native: fm",
    "pd": "pd: synth.pd",
    "faust": "faust: synth.dsp",
    "csound": "csound: synth.csd",
    "supercollider": "supercollider: synth.scsyndef",
    "midi": "midi: {ccs: [74, 71]}",
}


class MidiSettings(StrictModel):
    """How a hardware or DAW synth is played over MIDI (``midi:`` in synth.yaml).

    ``ccs`` has one control-change number per parameter (``--midi-cc`` overrides it); a parameter in
    [0, 1] is sent as ``p * 127`` rounded. ``note``: a note held while a lookup table is recorded
    (None: the synth sounds without one).
    """

    ccs: list[pydantic.conint(ge=0, le=127)] = pydantic.Field(default_factory=list)  # type: ignore[valid-type]
    channel: int = pydantic.Field(1, ge=1, le=16)
    port: str = ""
    note: int | None = pydantic.Field(None, ge=0, le=127)
    velocity: int = pydantic.Field(100, ge=1, le=127)
    settle: float = pydantic.Field(0.1, ge=0.0, le=10.0)  # s after the CCs before recording a row
    input: str = ""  # the audio input a lookup records from (set by lookup --input; '' = the default device)


class SynthSpec(StrictModel):
    """The contents of ``synth.yaml`` (plus where it was found)."""

    description: str = ""
    engine: str = "native"
    native: str | None = None
    pd: str | None = None
    faust: str | None = None
    csound: str | None = None
    supercollider: str | None = None
    midi: MidiSettings | None = None
    params: list[ParamSpec]
    min_params: int | None = None  # engines that accept fewer parameters than listed (granular)
    #: parameters left out by ``--params N`` (:meth:`with_n_params`): engines hold them at their defaults
    held: list[ParamSpec] = pydantic.Field(default_factory=list)
    name: str = ""
    folder: Path | None = None

    @pydantic.model_validator(mode="after")
    def _check_engine(self) -> SynthSpec:
        from rlimpro.workspace import did_you_mean

        if self.engine not in SOURCE_EXAMPLES:
            raise ValueError(
                f"engine '{self.engine}' is unknown{did_you_mean(self.engine, list(SOURCE_EXAMPLES))} "
                f"(known: {', '.join(SOURCE_EXAMPLES)})"
            )
        if getattr(self, self.engine) is None:
            raise ValueError(f"engine is '{self.engine}' but no '{SOURCE_EXAMPLES[self.engine]}' is given")
        if not self.params:
            raise ValueError("a synth needs at least one parameter")
        return self

    def engines(self) -> list[str]:
        """The engines this synth has a source for."""
        return [e for e in SOURCE_EXAMPLES if getattr(self, e) is not None]

    def source_file(self) -> Path:
        """Path of the current engine's source file (synth.pd, synth.dsp, synth.csd, synth.scsyndef).

        Raises
        ------
        NotFoundError
            The engine has no source file (native, midi) or the synth has no folder.
        """
        name = getattr(self, self.engine)
        if not isinstance(name, str) or self.engine == "native" or self.folder is None:
            raise NotFoundError(f"synth '{self.name}' has no {self.engine} source file")
        return self.folder / name

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
        return self.model_copy(update={"params": self.params[:n], "held": [*self.params[n:], *self.held]})

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
    engine : str, optional
        Override the engine named in synth.yaml (an engine the synth has a source for; the built-ins
        sine and fm ship native, pd, faust, csound and supercollider sources).

    Raises
    ------
    NotFoundError, ConfigError, ParameterError
    """
    from rlimpro.workspace import did_you_mean

    if engine is not None and engine not in SOURCE_EXAMPLES:
        raise ParameterError(
            f"--engine {engine}: unknown engine{did_you_mean(engine, list(SOURCE_EXAMPLES))} "
            f"(known: {', '.join(SOURCE_EXAMPLES)})"
        )
    folder = synth_source_dir(name, workspace=workspace)
    yaml_path = folder / "synth.yaml"
    if yaml_path.is_file():
        data = load_yaml(yaml_path)
        spec = validate(SynthSpec, data, source=str(yaml_path))
        spec = spec.model_copy(update={"name": name, "folder": folder})
    else:
        source = next((f for f in BARE_SOURCES if (folder / f).is_file()), None)
        if source is None:
            raise NotFoundError(f"synth '{name}': {folder} has no synth.yaml and no source file ({', '.join(BARE_SOURCES)})")
        kind = BARE_SOURCES[source]
        from rlimpro.synths.registry import engine_class

        params = engine_class(kind).discover_params(folder / source, n_params=n_params)
        spec = SynthSpec(engine=kind, params=params, name=name, folder=folder, **{kind: source})
    if engine is not None and engine != spec.engine:
        if getattr(spec, engine) is None:
            have = ", ".join(spec.engines())
            raise ParameterError(
                f"--engine {engine}: synth '{name}' has no {engine} source (add '{SOURCE_EXAMPLES[engine]}' "
                f"to its synth.yaml; it has: {have})"
            )
        spec = spec.model_copy(update={"engine": engine})
    if n_params is not None:
        spec = spec.with_n_params(n_params)
    if spec.engine not in ("native", "midi") and not spec.source_file().is_file():
        raise NotFoundError(f"synth '{name}': {spec.source_file()} does not exist")
    return spec


__all__ = ["ParamSpec", "SynthSpec", "load_spec", "ConfigError"]
