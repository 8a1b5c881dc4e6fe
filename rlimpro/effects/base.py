"""The effect contract: parameters in [0, 1], audio processed block by block with per-sample ramps.

An :class:`Effect` receives a block of mono audio and, for every sample of it, the value of each of
its parameters (the chain computes the ramp, see :mod:`rlimpro.effects.chain`), so an effect never
sees a parameter jump: memoryless effects (gain, waveshaper) apply the ramp sample by sample, the
filter recomputes its coefficients every :data:`CONTROL_BLOCK` samples from the ramped values.
State (filter memory, delay line) carries over from one block to the next until :meth:`reset`.
"""

from __future__ import annotations

import abc
import math
from typing import Any, ClassVar

import numpy as np

from rlimpro.errors import ParameterError

#: Samples between coefficient updates of effects that cannot change every sample (the filter).
CONTROL_BLOCK = 32


def exp_map(p: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``lo * (hi / lo) ** p``: 0..1 onto an exponential (log-uniform) range, ``lo, hi > 0``."""
    return lo * np.exp(np.asarray(p, dtype=np.float64) * math.log(hi / lo))


def lin_map(p: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``lo + p (hi - lo)``: 0..1 onto a linear range."""
    return lo + np.asarray(p, dtype=np.float64) * (hi - lo)


class Effect(abc.ABC):
    """Base class of the native effects.

    Parameters
    ----------
    sample_rate : int
        Hz.
    **options
        Effect-specific settings that are not parameters (ranges, filter mode), checked by the subclass.

    Attributes
    ----------
    param_names : tuple of str
        Names of the parameters, each a float in [0, 1].
    defaults : tuple of float
        Default parameter values (where evaluation and live sessions start).
    """

    kind: ClassVar[str] = "effect"
    param_names: ClassVar[tuple[str, ...]] = ()
    defaults: ClassVar[tuple[float, ...]] = ()
    option_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, sample_rate: int, **options: Any):
        if not (isinstance(sample_rate, int | np.integer) and 1000 <= sample_rate <= 384000):
            raise ParameterError(f"sample_rate {sample_rate!r} must be an integer number of Hz in 1000..384000")
        unknown = sorted(set(options) - set(self.option_names))
        if unknown:
            from rlimpro.workspace import did_you_mean

            allowed = ", ".join(self.option_names) or "none"
            raise ParameterError(
                f"effect '{self.kind}' has no option '{unknown[0]}'"
                f"{did_you_mean(unknown[0], list(self.option_names))} (options: {allowed})"
            )
        self.sample_rate = int(sample_rate)
        self.options = dict(options)

    @property
    def n_params(self) -> int:
        """Number of parameters."""
        return len(self.param_names)

    def reset(self) -> None:  # noqa: B027 - stateless effects have nothing to forget
        """Forget all audio (filter memory, delay line)."""

    @abc.abstractmethod
    def process(self, x: np.ndarray, params: np.ndarray) -> np.ndarray:
        """Process one block.

        Parameters
        ----------
        x : ndarray, shape (n,), float64
            Input samples, full scale = 1.
        params : ndarray, shape (n, n_params), float64
            Every parameter's value at every sample, in [0, 1].

        Returns
        -------
        ndarray, shape (n,), float64
        """

    def describe(self) -> dict[str, Any]:
        """``{"type": kind, **options}``: what rebuilds this effect (stored in a run)."""
        return {"type": self.kind, **self.options}

    def physical(self, params: np.ndarray) -> dict[str, float]:
        """The physical values (Hz, dB, s ...) of one parameter vector, for logs and docs."""
        return {}


def check_option(value: Any, *, name: str, kind: str, lo: float, hi: float) -> float:
    """A float option within ``[lo, hi]``.

    Raises
    ------
    ParameterError
        Not a number or out of range (names the effect and the option).
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"effect '{kind}': option {name} must be a number, got {value!r}") from None
    if not (math.isfinite(v) and lo <= v <= hi):
        raise ParameterError(f"effect '{kind}': option {name} {v} must be within {lo}..{hi}")
    return v
