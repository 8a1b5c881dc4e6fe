"""The native effects and the effect chain: analytic responses, ramps, state across blocks, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from numpy.testing import assert_allclose

from rlimpro.effects import CONTROL_BLOCK, EFFECTS, Delay, Distortion, EffectChain, Filter, Gain
from rlimpro.errors import ParameterError

SR = 44100


def sine(freq: float, n: int, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(n) / SR)


def rms_db(x: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(x * x)))


def const(params, n):
    return np.broadcast_to(np.asarray(params, dtype=np.float64), (n, len(params)))


# ---------------------------------------------------------------- effects
def test_gain_maps_linearly_in_db():
    g = Gain(sample_rate=SR)
    x = sine(440, 4410)
    for p, db in ((0.0, -60.0), (1.0, 12.0), (60 / 72, 0.0), (0.5, -24.0)):
        assert rms_db(g.process(x, const([p], x.size))) - rms_db(x) == pytest.approx(db, abs=1e-9)


def test_distortion_formula_and_peak_normalisation():
    d = Distortion(sample_rate=SR, max_drive_db=20.0)
    x = np.linspace(-1, 1, 101)
    assert_allclose(d.process(x, const([1.0], x.size)), np.tanh(10 * x) / np.tanh(10), atol=1e-12, rtol=0)
    assert_allclose(d.process(np.array([-1.0, 1.0]), const([0.3], 2)), [-1.0, 1.0], atol=1e-12, rtol=0)
    # more drive, more harmonics: the third harmonic of a sine grows
    s = sine(500, 4410, amp=0.1)  # 10 Hz bins: fundamental in bin 50, third harmonic in bin 150
    spectra = [np.abs(np.fft.rfft(d.process(s, const([p], s.size)))) for p in (0.0, 1.0)]
    h3 = [sp[150] / sp[50] for sp in spectra]
    assert h3[0] < 1e-3 and h3[1] > 0.05


def test_filter_with_constant_parameters_is_the_rbj_biquad():
    f = Filter(sample_rate=SR, mode="bandpass")
    x = np.random.default_rng(0).standard_normal(5000)
    b, a = f.coefficients(np.array([0.4]), np.array([0.7]))
    assert_allclose(f.process(x, const([0.4, 0.7], x.size)), scipy.signal.lfilter(b[0], a[0], x), atol=1e-12, rtol=0)


@pytest.mark.parametrize("mode", ["lowpass", "bandpass", "highpass"])
def test_filter_frequency_response(mode):
    f = Filter(sample_rate=SR, mode=mode, min_hz=100.0, max_hz=10000.0)
    p = 0.5  # 1 kHz: exp-mapped midpoint of 100 Hz .. 10 kHz
    assert f.physical(np.array([p, 0.0]))["cutoff_hz"] == pytest.approx(1000.0)
    level = {}
    for freq in (100.0, 1000.0, 10000.0):
        f.reset()
        y = f.process(sine(freq, SR // 2), const([p, 0.0], SR // 2))
        level[freq] = rms_db(y[SR // 4 :]) - rms_db(sine(freq, SR // 4))
    if mode == "lowpass":
        assert level[100.0] > -0.5 and level[10000.0] < -35
    elif mode == "highpass":
        assert level[10000.0] > -0.5 and level[100.0] < -35
    else:
        assert abs(level[1000.0]) < 0.1 and level[100.0] < -10 and level[10000.0] < -10


def test_delay_echo_at_the_delay_time_with_feedback():
    d = Delay(sample_rate=SR, min_s=0.01, max_s=0.1, max_feedback=0.5)
    p = np.array([0.5, 1.0, 1.0])  # time sqrt(0.01 * 0.1) s, feedback 0.5, mix 1
    delay = int(round(np.sqrt(0.001) * SR))
    x = np.zeros(4 * delay + 10)
    x[0] = 1.0
    y = np.concatenate([d.process(x[i : i + 256], const(p, x[i : i + 256].size)) for i in range(0, x.size, 256)])
    peaks = np.flatnonzero(np.abs(y) > 0.05)
    assert peaks[0] == 0 and y[0] == 1.0
    echoes = [k * np.sqrt(0.001) * SR for k in (1, 2, 3)]
    for k, t in enumerate(echoes):  # echo k+1 (spread over a few samples by interpolation) sums to feedback^k
        lo = int(np.floor(t))
        assert y[lo - 3 : lo + 4].sum() == pytest.approx(0.5**k, rel=1e-9)
        assert np.abs(y[lo + 5 : lo + int(delay) - 5]).max() == 0.0


def test_a_chain_is_the_same_whatever_the_block_size():
    x = np.random.default_rng(1).standard_normal(9000) * 0.3
    p = np.array([0.3, 0.6, 0.2, 0.7, 0.4, 0.5, 0.5])
    spec = ["lowpass", "distortion", "gain", "delay"]
    outs = []
    for block in (512, 100, 4096):
        chain = EffectChain.from_spec(spec, sample_rate=SR)
        chain.reset(p)
        outs.append(np.concatenate([chain.process(x[i : i + block], p) for i in range(0, x.size, block)]))
    assert_allclose(outs[1], outs[0], atol=1e-12, rtol=0)
    assert_allclose(outs[2], outs[0], atol=1e-12, rtol=0)


def test_ramp_reaches_the_new_parameters_linearly():
    chain = EffectChain.from_spec([{"type": "gain", "min_db": -20.0, "max_db": 0.0}], sample_rate=SR, ramp=100)
    chain.reset([0.0])
    ones = np.ones(300)
    y = chain.process(ones, [1.0])
    expected_db = -20.0 + 20.0 * np.minimum(np.arange(1, 301) / 100, 1.0)
    assert_allclose(20 * np.log10(y), expected_db, atol=1e-9, rtol=0)
    assert_allclose(chain.params, [1.0])
    chain0 = EffectChain.from_spec(["gain"], sample_rate=SR, ramp=0)
    chain0.reset([0.0])
    assert_allclose(chain0.process(ones[:5], [60 / 72]), 1.0)


def test_filter_modulated_every_block_stays_bounded_and_clickless():
    """Random cutoff/resonance every 64 samples on a sine: no blow-up, no sample jumps beyond the signal's own."""
    chain = EffectChain.from_spec(["lowpass"], sample_rate=SR, ramp=64)
    rng = np.random.default_rng(2)
    x = sine(200, SR, amp=0.5)
    y = np.concatenate([chain.process(x[i : i + 64], rng.random(2) * [1.0, 0.6]) for i in range(0, x.size, 64)])
    assert np.isfinite(y).all() and np.abs(y).max() < 4.0
    # the coefficient updates happen every CONTROL_BLOCK samples inside ramps
    assert CONTROL_BLOCK == 32


def test_chain_names_defaults_and_spec_round_trip():
    chain = EffectChain.from_spec(["lowpass", {"type": "gain", "min_db": -40}, "gain", "delay"], sample_rate=SR)
    assert chain.param_names == ("lowpass.cutoff", "lowpass.resonance", "gain.level", "gain-2.level",
                                 "delay.time", "delay.feedback", "delay.mix")
    assert chain.n_params == 7 and chain.defaults.shape == (7,)
    again = EffectChain.from_spec(chain.spec(), sample_rate=SR)
    assert again.spec() == chain.spec()
    phys = chain.physical(chain.defaults)
    assert phys["gain-2.gain_db"] == pytest.approx(0.0) and phys["lowpass.cutoff_hz"] == pytest.approx(16000.0)
    assert set(EFFECTS) == {"lowpass", "bandpass", "highpass", "gain", "distortion", "delay"}


# ---------------------------------------------------------------- bad input
def test_parameter_count_that_does_not_fit_the_chain():
    chain = EffectChain.from_spec(["lowpass", "gain"], sample_rate=SR)
    with pytest.raises(ParameterError, match=r"has 3 parameters \(lowpass.cutoff, lowpass.resonance, gain.level\), got 4"):
        chain.process(np.zeros(64), [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ParameterError, match="finite"):
        chain.process(np.zeros(64), [0.1, np.nan, 0.3])
    with pytest.raises(ParameterError, match="mono"):
        chain.process(np.zeros((64, 2)), [0.1, 0.2, 0.3])


@pytest.mark.parametrize(
    "spec, match",
    [
        (["lowpas"], "unknown effect 'lowpas'; did you mean 'lowpass'"),
        ([], "non-empty list"),
        ([{"type": "gain", "max_dB": 3}], "no option 'max_dB'; did you mean 'max_db'"),
        ([{"type": "gain", "min_db": 6, "max_db": 0}], "must be below"),
        ([{"type": "lowpass", "mode": "highpass"}], "fixes option 'mode'"),
        ([{"min_db": 0}], "needs 'type: <name>'"),
        ([{"type": "delay", "max_feedback": 1.5}], r"max_feedback 1.5 must be within"),
        ([{"type": "distortion", "max_drive_db": "lots"}], "must be a number"),
    ],
)
def test_bad_chain_specs_are_clear_errors(spec, match):
    with pytest.raises(ParameterError, match=match):
        EffectChain.from_spec(spec, sample_rate=SR)


def test_bad_sample_rate_and_ramp():
    with pytest.raises(ParameterError, match="sample_rate"):
        Gain(sample_rate=10)
    with pytest.raises(ParameterError, match="ramp"):
        EffectChain.from_spec(["gain"], sample_rate=SR, ramp=-1)
    with pytest.raises(ParameterError, match="runs at 22050 Hz, the chain at 44100 Hz"):
        EffectChain([Gain(sample_rate=22050)], sample_rate=SR)
