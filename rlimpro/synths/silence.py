"""What the synth does while the musician rests: ``silence: hold | fade | gate``.

The agent decides only on frames where the musician plays (the corpus ``active`` rule: unsmoothed RMS
loudness above -60 dBFS); on the others its parameters are held. Whether the synth keeps sounding
meanwhile is a gain on its output, one linear ramp per hop:

- ``hold``: gain 1 always; the synth drones on with the held parameters (rlimpro 0.1's behaviour);
- ``fade`` (default): from the first silent frame the gain falls linearly to 0 over
  :data:`FADE_SECONDS` (100 ms), and rises back to 1 within the hop of the next played frame;
- ``gate``: the gain falls to 0 within the first silent hop and rises within the first played hop.

The same gain is applied live (device, file and Pd outputs) and when evaluation renders a trajectory,
so a rehearsal and an evaluation sound the same.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from rlimpro.errors import ParameterError

SILENCE_MODES = ("hold", "fade", "gate")
SilenceMode = Literal["hold", "fade", "gate"]
FADE_SECONDS = 0.1  #: time for ``fade`` to reach silence


class SilenceGain:
    """The output gain of one stream, one block at a time.

    The gain moves linearly: down at ``1 / (fade_seconds * sample_rate)`` per sample while the musician
    rests (``fade``; ``1 / hop`` for ``gate``), up at ``1 / hop`` per sample while they play. Blocks of
    ``hop`` samples give exactly the per-hop ramps of the module docstring; an audio device's blocks
    of other sizes ramp at the same rates.

    Parameters
    ----------
    mode : {"hold", "fade", "gate"}
    hop : int
        Samples per analysis hop.
    sample_rate : int
        Hz.
    fade_seconds : float
        Fade time of ``fade``, seconds, > 0.
    """

    def __init__(self, mode: str, *, hop: int, sample_rate: int, fade_seconds: float = FADE_SECONDS):
        from rlimpro.workspace import did_you_mean

        if mode not in SILENCE_MODES:
            raise ParameterError(
                f"silence '{mode}' is unknown{did_you_mean(mode, list(SILENCE_MODES))} (choose {', '.join(SILENCE_MODES)})"
            )
        if hop < 1 or sample_rate < 1 or not fade_seconds > 0:
            raise ParameterError(f"silence gain needs hop >= 1, sample_rate >= 1 and fade_seconds > 0, got {hop}, {sample_rate}, {fade_seconds}")
        self.mode = mode
        self.hop = int(hop)
        #: gain change per sample going down (resting) and up (playing)
        self.down = 1.0 / self.hop if mode == "gate" else min(1.0 / self.hop, 1.0 / (fade_seconds * sample_rate))
        self.up = 1.0 / self.hop
        self.gain = 1.0

    def block(self, active: bool, n: int | None = None) -> np.ndarray | None:
        """The gain of the next ``n`` samples (default: one hop), shape (n,), ramping from the last
        block's end; None when it is 1 throughout (nothing to multiply)."""
        n = self.hop if n is None else int(n)
        start = self.gain
        if self.mode == "hold" or active:
            end = min(1.0, start + self.up * n)
        else:
            end = max(0.0, start - self.down * n)
        self.gain = end
        if start == 1.0 and end == 1.0:
            return None
        return start + (end - start) * (np.arange(1, n + 1) / n)

    def apply(self, audio: np.ndarray, active: bool) -> np.ndarray:
        """``audio`` (shape (n,) or (n, channels)) times the next ``n`` samples' gain (a new array
        when the gain is not 1)."""
        gain = self.block(active, audio.shape[0])
        if gain is None:
            return audio
        return audio * (gain if audio.ndim == 1 else gain[:, None])
