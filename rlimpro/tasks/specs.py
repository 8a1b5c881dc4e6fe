"""Action specifications: how the agent's controls map onto a synth's [0, 1] engine parameters.

One spec per synth parameter (RaveForce's action space, declared in YAML instead of code), in
physical units of the synth's ``synth.yaml``:

=========== ============================================= ==============================================
type        value of the parameter                         the agent's control ``u`` in [0, 1]
=========== ============================================= ==============================================
``lin``     ``min + u (max - min)``                        one continuous control
``exp``     ``min (max / min) ** u`` (min, max same sign,  one continuous control
            neither zero)
``choice``  ``values[k]``, ``k = min(floor(u K), K - 1)``  one control; discrete when every control is
                                                           a choice (``u = (k + 0.5) / K``)
``rel``     ``scale * value(of) + offset``                 none: derived from an *earlier* parameter
``fixed``   ``value``                                      none
=========== ============================================= ==============================================

``min``/``max`` default to the synth parameter's own range (and ``lin``/``exp`` to its own scale
when the type is omitted). Every value must lie inside the synth parameter's range (``rel`` results
are clipped to it). The physical value is mapped back to the engine's [0, 1] with the inverse of the
synth's mapping (:meth:`~rlimpro.synths.spec.ParamSpec.to_physical`).

Parameters the specs do not name are controlled over their whole range (``u`` is the engine value).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pydantic

from rlimpro.config import StrictModel
from rlimpro.errors import ConfigError
from rlimpro.synths.spec import ParamSpec, SynthSpec

SpecType = Literal["lin", "exp", "choice", "rel", "fixed"]
SPEC_TYPES = ("lin", "exp", "choice", "rel", "fixed")


class ActionSpec(StrictModel):
    """The action specification of one synth parameter (see the module docstring)."""

    type: SpecType | None = None
    min: float | None = None
    max: float | None = None
    values: list[float] | None = pydantic.Field(None, min_length=1)
    of: str | int | None = None
    scale: float = 1.0
    offset: float = 0.0
    value: float | None = None

    @pydantic.model_validator(mode="after")
    def _check_fields(self) -> ActionSpec:
        kind = self.type
        if kind == "exp" and self.min is not None and self.max is not None and self.min * self.max <= 0:
            raise ValueError(
                f"an exp range needs min and max of the same sign, neither zero (got {self.min}..{self.max}); "
                "use type lin for a range that includes zero"
            )
        if kind == "choice" and not self.values:
            raise ValueError("a choice needs 'values: [v1, v2, ...]'")
        if kind != "choice" and self.values is not None:
            raise ValueError(f"'values' belongs to type choice, not {kind or 'lin/exp'}")
        if kind == "rel" and self.of is None:
            raise ValueError("a rel spec needs 'of: <earlier parameter name or index>'")
        if kind != "rel" and self.of is not None:
            raise ValueError(f"'of' belongs to type rel, not {kind or 'lin/exp'}")
        if kind == "fixed" and self.value is None:
            raise ValueError("a fixed spec needs 'value: <number>'")
        if kind in ("choice", "rel", "fixed") and (self.min is not None or self.max is not None):
            raise ValueError(f"'min'/'max' belong to types lin and exp, not {kind}")
        for name in ("min", "max", "value", "scale", "offset"):
            v = getattr(self, name)
            if v is not None and not np.isfinite(v):
                raise ValueError(f"'{name}' must be a finite number, got {v}")
        if self.values is not None and not all(np.isfinite(v) for v in self.values):
            raise ValueError("choice values must be finite numbers")
        return self


def _inverse(ps: ParamSpec, x: np.ndarray) -> np.ndarray:
    """Engine value in [0, 1] of physical values ``x`` (inverse of ``ps.to_physical``), clipped."""
    x = np.asarray(x, dtype=np.float64)
    if ps.max == ps.min:
        return np.zeros_like(x)
    if ps.scale == "exp":
        ratio = np.clip(x / ps.min, 1e-300, None)
        p = np.log(ratio) / np.log(ps.max / ps.min)
    else:
        p = (x - ps.min) / (ps.max - ps.min)
    return np.clip(p, 0.0, 1.0)


def _inside(ps: ParamSpec, x: float) -> bool:
    lo, hi = min(ps.min, ps.max), max(ps.min, ps.max)
    tol = 1e-9 * max(1.0, abs(lo), abs(hi))
    return lo - tol <= x <= hi + tol


class ActionLayout:
    """Compiled action specifications of a synth: controls ``u`` (B, M) -> engine parameters (B, N).

    Parameters
    ----------
    synth : SynthSpec
    specs : mapping of parameter name -> ActionSpec or dict, optional
        Parameters not named are controlled over their whole range.
    source : str
        Where the specs come from (a config file and key), for messages.

    Raises
    ------
    ConfigError
        A spec names an unknown parameter, a ``rel`` points at a later, missing or derived-from-itself
        parameter, an ``exp`` range includes zero, a range or value lies outside the synth
        parameter's range, or no parameter is left for the agent to control.
    """

    def __init__(self, synth: SynthSpec, specs: Mapping[str, ActionSpec | Mapping[str, Any]] | None = None, *, source: str = "actions"):
        from rlimpro.config import validate
        from rlimpro.workspace import did_you_mean

        self.synth = synth
        names = [p.name for p in synth.params]
        self.param_names = names
        raw = dict(specs or {})
        for key in raw:
            if key not in names:
                raise ConfigError(
                    f"{source}: [{key}] synth '{synth.name}' has no parameter '{key}'{did_you_mean(key, names)} "
                    f"(parameters: {', '.join(names)})"
                )
        self.specs: list[ActionSpec] = []
        for i, ps in enumerate(synth.params):
            given = raw.get(ps.name)
            if given is None:
                spec = ActionSpec(type=ps.scale, min=ps.min, max=ps.max)
            elif isinstance(given, ActionSpec):
                spec = given
            else:
                spec = validate(ActionSpec, dict(given), source=f"{source}: [{ps.name}]")
            self.specs.append(self._complete(spec, ps, i, names, source=source))
        self.controls = [i for i, s in enumerate(self.specs) if s.type in ("lin", "exp", "choice")]
        if not self.controls:
            raise ConfigError(f"{source}: every parameter is rel or fixed; leave at least one for the agent to control")
        self.n_params = synth.n_params
        self.n_controls = len(self.controls)
        #: whether every control is a choice (the action space is then MultiDiscrete)
        self.discrete = all(self.specs[i].type == "choice" for i in self.controls)
        self.nvec = [len(self.specs[i].values or []) for i in self.controls] if self.discrete else []

    def _complete(self, spec: ActionSpec, ps: ParamSpec, i: int, names: list[str], *, source: str) -> ActionSpec:
        where = f"{source}: [{ps.name}]"
        kind = spec.type or ps.scale
        lo = ps.min if spec.min is None else spec.min
        hi = ps.max if spec.max is None else spec.max
        rng = f"{min(ps.min, ps.max):g}..{max(ps.min, ps.max):g}{' ' + ps.unit if ps.unit else ''}"
        if kind in ("lin", "exp"):
            if kind == "exp" and lo * hi <= 0:
                raise ConfigError(
                    f"{where} an exp range needs min and max of the same sign, neither zero (got {lo:g}..{hi:g}); "
                    "use type lin for a range that includes zero"
                )
            for name, v in (("min", lo), ("max", hi)):
                if not _inside(ps, v):
                    raise ConfigError(f"{where} {name} {v:g} is outside the synth parameter's range {rng}")
            return spec.model_copy(update={"type": kind, "min": lo, "max": hi})
        if kind == "choice":
            for v in spec.values or []:
                if not _inside(ps, v):
                    raise ConfigError(f"{where} choice value {v:g} is outside the synth parameter's range {rng}")
            return spec
        if kind == "fixed":
            if not _inside(ps, float(spec.value)):  # type: ignore[arg-type]
                raise ConfigError(f"{where} fixed value {spec.value:g} is outside the synth parameter's range {rng}")
            return spec
        # rel
        of = spec.of
        if isinstance(of, int) or (isinstance(of, str) and of.isdigit()):
            j = int(of)
            if not 0 <= j < len(names):
                raise ConfigError(f"{where} rel of parameter {j}: the synth has parameters 0..{len(names) - 1}")
        else:
            from rlimpro.workspace import did_you_mean

            if of not in names:
                raise ConfigError(
                    f"{where} rel of '{of}': no such parameter{did_you_mean(str(of), names)} (parameters: {', '.join(names)})"
                )
            j = names.index(of)
        if j >= i:
            raise ConfigError(
                f"{where} rel of '{names[j]}': a rel parameter can only derive from an earlier parameter "
                f"({', '.join(names[:i]) or 'none before it'}); reorder or use lin/exp/choice"
            )
        return spec.model_copy(update={"of": j})

    # ------------------------------------------------------------------ mapping
    def physical(self, u: np.ndarray) -> np.ndarray:
        """Physical parameter values of controls.

        Parameters
        ----------
        u : ndarray, shape (B, M) or (M,)
            Controls in [0, 1] (clipped).

        Returns
        -------
        ndarray, shape (B, N) (or (N,) for one vector), float64, synth units
        """
        u = np.asarray(u, dtype=np.float64)
        single = u.ndim == 1
        u = np.clip(np.atleast_2d(u), 0.0, 1.0)
        if u.shape[1] != self.n_controls:
            from rlimpro.errors import ParameterError

            raise ParameterError(f"expected {self.n_controls} controls per vector, got shape {u.shape}")
        out = np.empty((u.shape[0], self.n_params))
        col = {i: k for k, i in enumerate(self.controls)}
        for i, (spec, ps) in enumerate(zip(self.specs, self.synth.params, strict=True)):
            if spec.type == "lin":
                out[:, i] = spec.min + u[:, col[i]] * (spec.max - spec.min)  # type: ignore[operator]
            elif spec.type == "exp":
                out[:, i] = spec.min * (spec.max / spec.min) ** u[:, col[i]]  # type: ignore[operator]
            elif spec.type == "choice":
                values = np.asarray(spec.values)
                k = np.minimum((u[:, col[i]] * len(values)).astype(np.int64), len(values) - 1)
                out[:, i] = values[k]
            elif spec.type == "fixed":
                out[:, i] = spec.value
            else:  # rel: clipped into the parameter's range
                lo, hi = min(ps.min, ps.max), max(ps.min, ps.max)
                out[:, i] = np.clip(spec.scale * out[:, int(spec.of)] + spec.offset, lo, hi)  # type: ignore[arg-type]
        return out[0] if single else out

    def to_engine(self, u: np.ndarray) -> np.ndarray:
        """Engine parameters in [0, 1] of controls ``u``: shape (B, M) -> (B, N) (or (M,) -> (N,))."""
        phys = self.physical(u)
        single = phys.ndim == 1
        phys = np.atleast_2d(phys)
        out = np.stack([_inverse(ps, phys[:, i]) for i, ps in enumerate(self.synth.params)], axis=1)
        return out[0] if single else out

    def controls_of_choices(self, k: np.ndarray) -> np.ndarray:
        """Controls at the centre of choice indices ``k`` (shape (..., M), all-choice layouts)."""
        return (np.asarray(k, dtype=np.float64) + 0.5) / np.asarray(self.nvec, dtype=np.float64)

    def quantize(self, u: np.ndarray) -> np.ndarray:
        """Controls moved to the centre of their choice bin (continuous controls unchanged), same shape."""
        u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0).copy()
        for k, i in enumerate(self.controls):
            spec = self.specs[i]
            if spec.type == "choice":
                n = len(spec.values or [])
                u[..., k] = (np.minimum(np.floor(u[..., k] * n), n - 1) + 0.5) / n
        return u

    def default_controls(self) -> np.ndarray:
        """Controls closest to the synth's default parameters, shape (M,)."""
        u = np.empty(self.n_controls)
        for k, i in enumerate(self.controls):
            spec, ps = self.specs[i], self.synth.params[i]
            x = float(ps.to_physical(ps.default))
            if spec.type == "lin":
                u[k] = (x - spec.min) / (spec.max - spec.min) if spec.max != spec.min else 0.5  # type: ignore[operator]
            elif spec.type == "exp":
                u[k] = np.log(x / spec.min) / np.log(spec.max / spec.min) if spec.max != spec.min and x / spec.min > 0 else 0.5  # type: ignore[operator]
            else:
                values = np.asarray(spec.values)
                u[k] = (int(np.argmin(np.abs(values - x))) + 0.5) / len(values)
        return np.clip(u, 0.0, 1.0)

    def describe(self) -> list[dict[str, Any]]:
        """The resolved specs (for run.json): one dict per synth parameter."""
        out = []
        for spec, ps in zip(self.specs, self.synth.params, strict=True):
            d = {"param": ps.name, **spec.model_dump(exclude_none=True)}
            if spec.type == "rel":
                d["of"] = self.param_names[int(spec.of)]  # type: ignore[arg-type]
            out.append(d)
        return out
