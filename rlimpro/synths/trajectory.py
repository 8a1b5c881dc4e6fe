"""Render a parameter trajectory continuously, the way ``rlimpro live`` plays it to a file, with any engine.

A trajectory is one parameter vector per hop: after hearing frame ``t`` a player chooses
``params[t]``, and output block ``t`` (samples ``t * hop … (t + 1) * hop``) moves from ``params[t - 1]``
to ``params[t]`` with the engine's continuous state (phase, grains in flight, filters), starting from
the synth's default parameters: the engine's :meth:`~rlimpro.synths.engine.Engine.render_trajectory`
(native, Faust, Csound: the live voice block by block, ramping; Pd: one ``pd -batch`` run, SuperCollider:
one ``scsynth -N`` score, setting the parameters at the start of each hop). The silence gain
(:mod:`rlimpro.synths.silence`) then follows the musician's activity. Analyzed with the run's analyzer,
frame ``t`` of the result lines up with frame ``t`` of the musician, as in a rehearsal's output file.
"""

from __future__ import annotations

import numpy as np

from rlimpro.errors import ParameterError
from rlimpro.synths.silence import SilenceGain
from rlimpro.synths.spec import SynthSpec


def render_trajectory(
    spec: SynthSpec,
    params: np.ndarray,
    *,
    hop: int,
    sample_rate: int,
    active: np.ndarray | None = None,
    silence: str = "hold",
) -> np.ndarray:
    """Audio of a trajectory, shape (T * hop,), float32, full scale 1.

    Parameters
    ----------
    spec : SynthSpec
        Any synth; ``spec.engine`` renders it (:mod:`rlimpro.synths.registry`).
    params : ndarray, shape (T, N)
        One parameter vector in [0, 1] per hop.
    hop : int
        Samples per hop (Pd and SuperCollider: a multiple of their 64-sample block).
    sample_rate : int
        Hz.
    active : ndarray of bool, shape (T,), optional
        Whether the musician plays at each hop (default: always).
    silence : {"hold", "fade", "gate"}
        What the output does while the musician rests.

    Raises
    ------
    ParameterError
        Shapes that do not fit.
    SynthError
        The engine failed (its own messages are shown), or its program is missing.
    """
    from rlimpro.synths.registry import make_engine

    params = np.asarray(params, dtype=np.float64)
    if params.ndim != 2 or params.shape[1] != spec.n_params or params.shape[0] < 1:
        raise ParameterError(f"a trajectory of synth '{spec.name}' has shape (T >= 1, {spec.n_params}), got {params.shape}")
    if active is None:
        active = np.ones(params.shape[0], dtype=bool)
    active = np.asarray(active, dtype=bool)
    if active.shape != (params.shape[0],):
        raise ParameterError(f"active must have shape ({params.shape[0]},), got {active.shape}")
    gain = SilenceGain(silence, hop=hop, sample_rate=sample_rate)
    engine = make_engine(spec)
    try:
        audio = engine.render_trajectory(params, hop=hop, sample_rate=sample_rate)
    finally:
        engine.close()
    out = np.empty(params.shape[0] * hop, dtype=np.float32)
    for t in range(params.shape[0]):
        out[t * hop : (t + 1) * hop] = gain.apply(audio[t * hop : (t + 1) * hop], bool(active[t]))
    return out
