"""Rendering a trajectory continuously, as live plays it: the voice, the alignment, the silence gain."""

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from rlimpro.descriptors import Analyzer
from rlimpro.descriptors.registry import descriptor_index
from rlimpro.errors import ParameterError
from rlimpro.synths import load_spec
from rlimpro.synths.native import make_engine
from rlimpro.synths.trajectory import render_trajectory

HOP, SR = 512, 44100


def test_a_trajectory_is_the_voice_block_by_block(tmp_path: Path):
    spec = load_spec("fm", workspace=tmp_path)
    rng = np.random.default_rng(0)
    params = rng.uniform(size=(20, 3))
    audio = render_trajectory(spec, params, hop=HOP, sample_rate=SR)
    voice = make_engine(spec).voice(sample_rate=SR)
    expected = np.concatenate([voice.render_block(p, HOP) for p in params])
    assert_allclose(audio, expected, atol=1e-7)


def test_frames_line_up_with_the_hops_that_chose_them(tmp_path: Path):
    """A sine jumping from 220 Hz to 440 Hz at hop 40 is heard at 440 Hz from frame 41 on."""
    spec = load_spec("sine", workspace=tmp_path)
    p220 = spec.params[0]
    lo = np.log(220 / p220.min) / np.log(p220.max / p220.min)
    hi = np.log(440 / p220.min) / np.log(p220.max / p220.min)
    params = np.array([[lo, 1.0]] * 40 + [[hi, 1.0]] * 40)
    frames = Analyzer().analyze(render_trajectory(spec, params, hop=HOP, sample_rate=SR))
    midi = frames[:, descriptor_index("pitch-midi")]
    assert_allclose(midi[10:39], 57.0, atol=0.05)
    assert_allclose(midi[42:78], 69.0, atol=0.05)


def test_fade_silences_the_rests(tmp_path: Path):
    spec = load_spec("sine", workspace=tmp_path)
    params = np.tile([0.5, 1.0], (100, 1))
    active = np.ones(100, dtype=bool)
    active[30:70] = False
    audio = render_trajectory(spec, params, hop=HOP, sample_rate=SR, active=active, silence="fade")
    rest = audio[30 * HOP : 70 * HOP]
    fade_hops = int(np.ceil(0.1 * SR / HOP))  # 100 ms
    assert np.max(np.abs(rest[fade_hops * HOP :])) == 0.0
    assert np.max(np.abs(rest[:HOP])) > 0.5  # still fading out
    assert np.max(np.abs(audio[71 * HOP : 72 * HOP])) > 0.9  # back within a hop of the next note
    held = render_trajectory(spec, params, hop=HOP, sample_rate=SR, active=active, silence="hold")
    assert np.max(np.abs(held[60 * HOP : 70 * HOP])) > 0.9


def test_bad_shapes(tmp_path: Path):
    spec = load_spec("sine", workspace=tmp_path)
    with pytest.raises(ParameterError, match="shape"):
        render_trajectory(spec, np.zeros((5, 3)), hop=HOP, sample_rate=SR)
    with pytest.raises(ParameterError, match="active"):
        render_trajectory(spec, np.zeros((5, 2)), hop=HOP, sample_rate=SR, active=np.ones(4, bool))
