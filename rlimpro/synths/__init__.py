"""Synths: definitions (synth.yaml), native numpy engines, and the Pure Data engine."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from rlimpro.synths.spec import ParamSpec, SynthSpec, load_spec


class Renderer(Protocol):
    """Anything that renders a batch of parameter vectors offline."""

    spec: SynthSpec

    def render(self, params: np.ndarray, *, duration: float, sample_rate: int) -> np.ndarray:
        """(B, N) parameters in [0, 1] -> (B, round(duration * sample_rate)) float32 audio."""
        ...


def make_renderer(spec: SynthSpec) -> Renderer:
    """The renderer for ``spec``'s engine: a native engine, or Pure Data in batch mode."""
    if spec.engine == "pd":
        from rlimpro.pd.engine import PdEngine

        return PdEngine(spec)
    from rlimpro.synths.native import make_engine

    return make_engine(spec)


__all__ = ["ParamSpec", "SynthSpec", "Renderer", "load_spec", "make_renderer"]
