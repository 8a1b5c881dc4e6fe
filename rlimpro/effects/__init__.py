"""Native audio effects with parameters in [0, 1], processed block by block with parameter ramps.

:mod:`~rlimpro.effects.base` (the effect contract and range mappings), :mod:`~rlimpro.effects.library`
(filter, gain, distortion, delay) and :mod:`~rlimpro.effects.chain` (effects in series, config lists,
ramps). Own numpy/SciPy DSP: see the README section "Cross-adaptive processing" for why not pedalboard.

    from rlimpro.effects import EffectChain
    chain = EffectChain.from_spec(["lowpass", "distortion", "gain"], sample_rate=44100)
    out = chain.process(block, [0.3, 0.1, 0.0, 0.8])     # the next block, ramping to these parameters
"""

from __future__ import annotations

from rlimpro.effects.base import CONTROL_BLOCK, Effect
from rlimpro.effects.chain import DEFAULT_RAMP, EFFECTS, EffectChain, make_effect
from rlimpro.effects.library import FILTER_MODES, Delay, Distortion, Filter, Gain

__all__ = [
    "CONTROL_BLOCK",
    "DEFAULT_RAMP",
    "EFFECTS",
    "FILTER_MODES",
    "Delay",
    "Distortion",
    "Effect",
    "EffectChain",
    "Filter",
    "Gain",
    "make_effect",
]
