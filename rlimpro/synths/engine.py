"""The one contract every synth engine implements (native, Pure Data, Faust, Csound, SuperCollider, MIDI).

A synth has N parameters, floats in [0, 1]; its :class:`~rlimpro.synths.spec.SynthSpec` maps them to
physical values. An engine turns parameters into mono float32 audio (full scale = 1) in three ways:

1. :meth:`Engine.render` — a batch of constant-parameter rows, each from the synth's load state
   (lookup tables, map audio, the match/sequence tasks);
2. :meth:`Engine.voice` — a live :class:`Voice` rendering one hop-sized block at a time with
   continuous state, its parameters ramped (or set) per block (``live --output device|file``);
3. :meth:`Engine.render_trajectory` — a whole trajectory of parameters, one vector per hop, rendered
   continuously the way the live voice plays it (evaluation of agents on rendered audio).

Engines that run in another process (Pd, SuperCollider) may have no in-process voice; they say so with
:attr:`Engine.has_voice` and play live through their own output (``--output pd``, ``--output supercollider``).
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from rlimpro.errors import ParameterError, SynthError
from rlimpro.synths.spec import ParamSpec, SynthSpec


def check_params(params: np.ndarray, n: int, name: str) -> np.ndarray:
    """``params`` as a (B, n) float64 array clipped to [0, 1]; a single (n,) vector becomes (1, n).

    Raises
    ------
    ParameterError
        Wrong shape, or NaN/inf values.
    """
    p = np.asarray(params, dtype=np.float64)
    if p.ndim == 1:
        p = p[None, :]
    if p.ndim != 2 or p.shape[1] != n:
        raise ParameterError(f"synth '{name}' takes {n} parameters per vector, got array of shape {p.shape}")
    if not np.isfinite(p).all():
        raise ParameterError(f"synth '{name}': parameters must be finite")
    return np.clip(p, 0.0, 1.0)


def n_samples(duration: float, sample_rate: int) -> int:
    """``round(duration * sample_rate)``, refusing durations that give no samples."""
    n = int(round(duration * sample_rate))
    if n <= 0:
        raise ParameterError(f"duration {duration} s gives no samples")
    return n


class Voice(Protocol):
    """A live block renderer with continuous state.

    Attributes
    ----------
    params : ndarray, shape (N,)
        The parameters the last block ended at (the synth's defaults before the first block); a
        caller may set it before the first block to start elsewhere.
    """

    params: np.ndarray

    def render_block(self, params: np.ndarray, n: int) -> np.ndarray:
        """``n`` samples (shape (n,), float32) moving from :attr:`params` to ``params`` (shape (N,), [0, 1])."""
        ...

    def close(self) -> None:
        """Release what the voice holds (a Csound instance, a helper process). Idempotent."""
        ...


class Engine(abc.ABC):
    """Base class of every synth engine; registered by :attr:`name` in :mod:`rlimpro.synths.registry`.

    Parameters
    ----------
    spec : SynthSpec
        The synth; ``spec.engine`` names this engine.

    Class attributes
    ----------------
    name : str
        Registry key and the ``engine:`` value of synth.yaml.
    source_key : str or None
        The synth.yaml key naming the source file (``pd: synth.pd``, ``faust: synth.dsp``).
    source_names : tuple of str
        Source file names a bare synth folder (no synth.yaml) is recognised by, in order of preference.
    has_voice : bool
        Whether :meth:`voice` renders in this process.
    parallel : bool
        Whether the lookup may render rows in several processes at once (False for a hardware synth).
    """

    name: ClassVar[str] = ""
    source_key: ClassVar[str | None] = None
    source_names: ClassVar[tuple[str, ...]] = ()
    has_voice: ClassVar[bool] = True
    parallel: ClassVar[bool] = True
    install_hint: ClassVar[str] = ""

    def __init__(self, spec: SynthSpec):
        self.spec = spec
        self.n_params = spec.n_params

    # ---------------------------------------------------------------- the contract
    @abc.abstractmethod
    def render(self, params: np.ndarray, *, duration: float, sample_rate: int) -> np.ndarray:
        """Render constant-parameter sounds, each from the synth's load state.

        Parameters
        ----------
        params : ndarray, shape (B, N) or (N,)
            Parameter vectors in [0, 1] (clipped).
        duration : float
            Seconds per sound.
        sample_rate : int
            Hz.

        Returns
        -------
        ndarray, shape (B, round(duration * sample_rate)), float32
        """

    def voice(self, *, sample_rate: int) -> Voice:
        """A live block renderer at ``sample_rate`` Hz starting at the synth's default parameters.

        Raises
        ------
        SynthError
            This engine plays live only through its own process (see :attr:`has_voice`).
        """
        raise SynthError(
            f"synth '{self.spec.name}' ({self.name} engine) has no in-process voice: it plays live through "
            f"--output {self.name}"
        )

    def render_trajectory(self, params: np.ndarray, *, hop: int, sample_rate: int) -> np.ndarray:
        """Render a parameter trajectory continuously, as the live voice plays it.

        Parameters
        ----------
        params : ndarray, shape (T, N)
            One parameter vector in [0, 1] per hop: ``params[t]`` is what the agent chose at hop ``t``.
        hop : int
            Samples per hop (> 0).
        sample_rate : int
            Hz.

        Returns
        -------
        ndarray, shape (T * hop,), float32
            Hop ``t`` (samples ``t*hop … (t+1)*hop-1``) moves from ``params[t-1]`` to ``params[t]``,
            ramped across the hop by engines with a voice (hop 0 ramps from the synth's default
            parameters, as a live voice starts), set at the start of the hop by the others (Pd,
            SuperCollider). The synth starts from its load state; its state (phase, filters,
            envelopes) runs on across hops.

        The default runs :meth:`voice` block by block; engines without an in-process voice override it.
        :func:`rlimpro.synths.render_trajectory` adds the live silence gain.
        """
        p = check_params(params, self.n_params, self.spec.name)
        hop = int(hop)
        if hop <= 0:
            raise ParameterError(f"hop {hop}: must be > 0 samples")
        out = np.zeros(p.shape[0] * hop, dtype=np.float32)
        if p.shape[0] == 0:
            return out
        v = self.voice(sample_rate=sample_rate)  # at the synth's default parameters
        try:
            for t in range(p.shape[0]):
                out[t * hop : (t + 1) * hop] = v.render_block(p[t], hop)
        finally:
            v.close()
        return out

    def close(self) -> None:  # noqa: B027 - engines that hold nothing need not override it
        """Release processes or libraries the engine holds (idempotent)."""

    # ---------------------------------------------------------------- helpers
    @classmethod
    def discover_params(cls, source: Path, *, n_params: int | None) -> list[ParamSpec]:
        """Parameters of a bare synth folder: its source file ``source``, no synth.yaml.

        The default: ``n_params`` generic linear parameters ``param-i`` in [0, 1], which the caller
        must give (``--params N``).

        Raises
        ------
        ParameterError
            The count is needed and not given.
        """
        if n_params is None:
            raise ParameterError(
                f"synth '{source.parent.name}' has a {source.name} but no synth.yaml: give its parameter count with --params N"
            )
        if n_params < 1:
            raise ParameterError(f"--params {n_params}: a synth needs at least one parameter")
        return [ParamSpec(name=f"param-{i}") for i in range(n_params)]

    def physical_matrix(self, params: np.ndarray) -> np.ndarray:
        """Physical values of (B, N) normalised parameters, shape (B, N) float64."""
        p = np.asarray(params, dtype=np.float64)
        return np.stack([ps.to_physical(p[..., i]) for i, ps in enumerate(self.spec.params)], axis=-1)

    def describe(self) -> dict[str, Any]:
        """What a lookup table records as its engine."""
        return {"engine": self.name}

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BlockVoice:
    """A :class:`Voice` over an engine-specific block function, keeping the previous parameters.

    Parameters
    ----------
    spec : SynthSpec
    block : callable
        ``block(p0, p1, n) -> (n,) array``: ``n`` samples moving from ``p0`` to ``p1`` (both (N,) in [0, 1]).
    close : callable, optional
        Called once by :meth:`close`.
    """

    def __init__(self, spec: SynthSpec, block: Any, close: Any = None):
        self.spec = spec
        self._block = block
        self._close = close
        self.params = np.array([ps.default for ps in spec.params], dtype=np.float64)

    def render_block(self, params: np.ndarray, n: int) -> np.ndarray:
        target = check_params(params, self.spec.n_params, self.spec.name)[0]
        out = self._block(self.params, target, int(n))
        self.params = target
        return np.asarray(out, dtype=np.float32)

    def close(self) -> None:
        if self._close is not None:
            close, self._close = self._close, None
            close()
