"""Synths: definitions (synth.yaml), the engine contract and registry, and the native numpy engines.

Every engine (native, pd, faust, csound, supercollider, midi) implements
:class:`~rlimpro.synths.engine.Engine`; :func:`make_engine` builds the one a spec names, and
:func:`render_trajectory` renders a parameter trajectory as ``live`` plays it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from rlimpro.synths.engine import Engine, Voice
from rlimpro.synths.registry import engine_class, engine_names, make_engine
from rlimpro.synths.spec import ParamSpec, SynthSpec, load_spec
from rlimpro.synths.trajectory import render_trajectory


class Renderer(Protocol):
    """Anything that renders a batch of parameter vectors offline (every :class:`Engine` does)."""

    spec: SynthSpec

    def render(self, params: np.ndarray, *, duration: float, sample_rate: int) -> np.ndarray:
        """(B, N) parameters in [0, 1] -> (B, round(duration * sample_rate)) float32 audio."""
        ...


def make_renderer(spec: SynthSpec) -> Engine:
    """The engine for ``spec`` (:func:`make_engine`; kept for callers that only render batches)."""
    return make_engine(spec)


__all__ = [
    "Engine", "ParamSpec", "SynthSpec", "Renderer", "Voice", "engine_class", "engine_names", "load_spec",
    "make_engine", "make_renderer", "render_trajectory",
]
