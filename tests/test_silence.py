"""The silence behaviour: hold, fade (100 ms to silence), gate; ramps continue across blocks."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from rlimpro.errors import ParameterError
from rlimpro.synths.silence import SilenceGain


def test_fade_reaches_silence_in_100_ms_and_returns_within_a_hop():
    g = SilenceGain("fade", hop=441, sample_rate=44100)  # 10 ms hops
    assert g.block(True) is None  # playing: nothing to multiply
    ends = []
    for _ in range(12):
        ends.append(g.block(False)[-1])
    assert_allclose(ends[:10], np.linspace(0.9, 0.0, 10), atol=1e-12)  # 100 ms
    assert ends[10:] == [0.0, 0.0]
    back = g.block(True)
    assert back[0] == pytest.approx(1 / 441) and back[-1] == 1.0


def test_gate_hold_and_blocks_of_other_sizes():
    gate = SilenceGain("gate", hop=512, sample_rate=44100)
    assert gate.block(False)[-1] == 0.0
    hold = SilenceGain("hold", hop=512, sample_rate=44100)
    assert all(hold.block(False) is None for _ in range(20))
    # a device's 256-frame blocks ramp at the same rate: two of them make one hop's fade
    a, b = SilenceGain("fade", hop=512, sample_rate=44100), SilenceGain("fade", hop=512, sample_rate=44100)
    one = a.block(False, 512)
    two = np.concatenate([b.block(False, 256), b.block(False, 256)])
    assert_allclose(one, two, atol=1e-12)
    stereo = a.apply(np.ones((512, 2)), False)
    assert stereo.shape == (512, 2) and stereo[-1, 0] < one[-1]
    with pytest.raises(ParameterError, match="did you mean 'fade'"):
        SilenceGain("fad", hop=512, sample_rate=44100)
