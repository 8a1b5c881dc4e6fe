"""An effect chain: effects in series, one parameter vector in [0, 1]^N, processed block by block.

Every :meth:`EffectChain.process` call takes the next block of audio and the new parameter vector;
the parameters ramp linearly from where they were to the new values over ``ramp`` samples (then
hold), so a new decision per block never clicks. Chains are written in configs as a list::

    effects: [lowpass, distortion, gain]                      # names
    effects:                                                   # or with options
      - {type: bandpass, max_q: 20}
      - {type: gain, min_db: -40}

The chain's parameters are the effects' parameters in order, named ``<effect>.<parameter>``
(``lowpass.cutoff``, ``lowpass.resonance``, ``distortion.drive``, ``gain.level``; a second effect of
the same type gets ``-2``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rlimpro.effects.base import Effect
from rlimpro.effects.library import Delay, Distortion, Filter, Gain
from rlimpro.errors import ParameterError

#: Effect names usable in a chain: name -> (class, fixed options).
EFFECTS: dict[str, tuple[type[Effect], dict[str, Any]]] = {
    "lowpass": (Filter, {"mode": "lowpass"}),
    "bandpass": (Filter, {"mode": "bandpass"}),
    "highpass": (Filter, {"mode": "highpass"}),
    "gain": (Gain, {}),
    "distortion": (Distortion, {}),
    "delay": (Delay, {}),
}

#: Default ramp, samples (about 3 ms at 44.1 kHz).
DEFAULT_RAMP = 128


def make_effect(item: str | Mapping[str, Any], *, sample_rate: int, where: str = "effects") -> Effect:
    """One effect from a config item: a name, or ``{type: name, option: value, ...}``.

    Raises
    ------
    ParameterError
        Unknown effect (with the close match) or option, bad option value; the message names ``where``.
    """
    from rlimpro.workspace import did_you_mean

    if isinstance(item, str):
        name, options = item, {}
    elif isinstance(item, Mapping):
        options = dict(item)
        name = options.pop("type", None)
        if not isinstance(name, str):
            raise ParameterError(f"{where}: an effect given as a mapping needs 'type: <name>' ({', '.join(EFFECTS)})")
    else:
        raise ParameterError(f"{where}: expected an effect name or a mapping with 'type', got {item!r}")
    if name not in EFFECTS:
        raise ParameterError(f"{where}: unknown effect '{name}'{did_you_mean(name, list(EFFECTS))} (choose {', '.join(EFFECTS)})")
    cls, fixed = EFFECTS[name]
    unknown = sorted(set(options) - set(cls.option_names))
    if unknown:
        allowed = [o for o in cls.option_names if o not in fixed]
        raise ParameterError(f"{where}: effect '{name}' has no option '{unknown[0]}'{did_you_mean(unknown[0], allowed)} "
                             f"(options: {', '.join(allowed) or 'none'})")
    clash = sorted(set(options) & set(fixed))
    if clash:
        raise ParameterError(f"{where}: effect '{name}' fixes option '{clash[0]}'; use type: {options[clash[0]]} instead")
    try:
        return cls(sample_rate=sample_rate, **fixed, **options)
    except ParameterError as exc:
        raise ParameterError(f"{where}: {exc}") from exc
    except TypeError as exc:  # an option of the wrong kind for the class signature
        raise ParameterError(f"{where}: effect '{name}': {exc}") from exc


class EffectChain:
    """Effects in series with one parameter vector.

    Parameters
    ----------
    effects : sequence of Effect
        At least one.
    sample_rate : int
        Hz (every effect's rate).
    ramp : int
        Samples over which a new parameter vector is reached (0: at once), >= 0.
    initial : array-like, shape (N,), optional
        Starting parameters (default: every effect's defaults).

    Raises
    ------
    ParameterError
        No effects, effects at another rate, a negative ramp.
    """

    def __init__(self, effects: Sequence[Effect], *, sample_rate: int, ramp: int = DEFAULT_RAMP,
                 initial: np.ndarray | None = None):
        if not effects:
            raise ParameterError("an effect chain needs at least one effect")
        for e in effects:
            if e.sample_rate != sample_rate:
                raise ParameterError(f"effect '{e.kind}' runs at {e.sample_rate} Hz, the chain at {sample_rate} Hz")
        if not (isinstance(ramp, int | np.integer) and ramp >= 0):
            raise ParameterError(f"ramp {ramp!r} must be a whole number of samples >= 0")
        self.effects = list(effects)
        self.sample_rate = int(sample_rate)
        self.ramp = int(ramp)
        names: list[str] = []
        seen: dict[str, int] = {}
        for e in self.effects:
            label = e.describe()["type"]
            seen[label] = seen.get(label, 0) + 1
            if seen[label] > 1:
                label = f"{label}-{seen[label]}"
            names += [f"{label}.{p}" for p in e.param_names]
        #: parameter names, ``<effect>.<parameter>``
        self.param_names: tuple[str, ...] = tuple(names)
        self._slices = []
        k = 0
        for e in self.effects:
            self._slices.append(slice(k, k + e.n_params))
            k += e.n_params
        #: default parameters, shape (N,)
        self.defaults = np.concatenate([np.asarray(e.defaults, dtype=np.float64) for e in self.effects])
        self.reset(initial)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_spec(cls, spec: Sequence[str | Mapping[str, Any]], *, sample_rate: int, ramp: int = DEFAULT_RAMP,
                  where: str = "effects") -> EffectChain:
        """A chain from its config list (names or mappings, see the module docstring).

        Raises
        ------
        ParameterError
            Empty list, unknown effect or option (the message names ``where`` and the item).
        """
        if isinstance(spec, str | bytes) or not isinstance(spec, Sequence) or len(spec) == 0:
            raise ParameterError(f"{where}: give a non-empty list of effects, e.g. [lowpass, distortion, gain]")
        effects = [make_effect(item, sample_rate=sample_rate, where=f"{where}.{i}") for i, item in enumerate(spec)]
        return cls(effects, sample_rate=sample_rate, ramp=ramp)

    def spec(self) -> list[dict[str, Any]]:
        """The chain as a config list of mappings (every option written out); inverse of :meth:`from_spec`."""
        return [e.describe() for e in self.effects]

    @property
    def n_params(self) -> int:
        """N, the number of parameters."""
        return len(self.param_names)

    # ------------------------------------------------------------------ processing
    def reset(self, params: np.ndarray | None = None) -> None:
        """Forget all audio; start at ``params`` (default: the defaults)."""
        for e in self.effects:
            e.reset()
        self.params = self.defaults.copy() if params is None else self.check_params(params)

    def check_params(self, params: Any) -> np.ndarray:
        """``params`` as a float64 vector of shape (N,) clipped to [0, 1].

        Raises
        ------
        ParameterError
            Wrong length (names the chain's parameters) or not finite.
        """
        p = np.asarray(params, dtype=np.float64)
        if p.shape != (self.n_params,):
            raise ParameterError(
                f"the effect chain has {self.n_params} parameters ({', '.join(self.param_names)}), "
                f"got {p.size if p.ndim == 1 else p.shape}"
            )
        if not np.isfinite(p).all():
            raise ParameterError(f"effect parameters must be finite, got {p.tolist()}")
        return np.clip(p, 0.0, 1.0)

    def ramp_values(self, params: np.ndarray, n: int) -> np.ndarray:
        """Per-sample parameter values of the next block of ``n`` samples, shape (n, N)."""
        start = self.params
        if self.ramp == 0 or np.array_equal(start, params):
            return np.broadcast_to(params, (n, self.n_params))
        w = np.minimum(np.arange(1, n + 1, dtype=np.float64) / self.ramp, 1.0)[:, None]
        return start + (params - start) * w

    def process(self, block: np.ndarray, params: Any) -> np.ndarray:
        """Process the next block with parameters ramping to ``params``.

        Parameters
        ----------
        block : ndarray, shape (n,)
            Mono audio, full scale = 1.
        params : array-like, shape (N,)
            New parameters in [0, 1] (clipped).

        Returns
        -------
        ndarray, shape (n,), float64

        Raises
        ------
        ParameterError
            ``params`` of the wrong length, or ``block`` not one-dimensional.
        """
        p = self.check_params(params)
        x = np.asarray(block, dtype=np.float64)
        if x.ndim != 1:
            raise ParameterError(f"effect chains process mono blocks of shape (n,), got {x.shape}")
        if x.size == 0:
            return x.copy()
        values = self.ramp_values(p, x.size)
        for e, sl in zip(self.effects, self._slices, strict=True):
            x = e.process(x, values[:, sl])
        self.params = values[-1].copy()
        return x

    def render(self, signal: np.ndarray, params: np.ndarray, *, block: int) -> np.ndarray:
        """Process a whole signal, one row of ``params`` per block (offline use, tests, baselines).

        Parameters
        ----------
        signal : ndarray, shape (n,)
        params : ndarray, shape (ceil(n / block), N) or (N,)
            Parameters per block (one vector: the same for every block).
        block : int
            Samples per block.

        Returns
        -------
        ndarray, shape (n,)
        """
        x = np.asarray(signal, dtype=np.float64)
        n_blocks = -(-x.size // block)
        p = np.asarray(params, dtype=np.float64)
        if p.ndim == 1:
            p = np.broadcast_to(p, (n_blocks, p.size))
        if p.shape[0] != n_blocks:
            raise ParameterError(f"render needs {n_blocks} parameter rows (one per block of {block}), got {p.shape[0]}")
        out = np.empty_like(x)
        for i in range(n_blocks):
            out[i * block : (i + 1) * block] = self.process(x[i * block : (i + 1) * block], p[i])
        return out

    def physical(self, params: np.ndarray) -> dict[str, float]:
        """Physical values of a parameter vector, keyed ``<effect>.<quantity>``."""
        p = self.check_params(params)
        out: dict[str, float] = {}
        for e, sl, label in zip(self.effects, self._slices, self._labels(), strict=True):
            out.update({f"{label}.{k}": v for k, v in e.physical(p[sl]).items()})
        return out

    def _labels(self) -> list[str]:
        """The effects' labels (``lowpass``, ``gain-2`` ...), in chain order."""
        return [self.param_names[sl.start].split(".")[0] for sl in self._slices]
