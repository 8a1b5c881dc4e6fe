"""Analyzer against analytic cases, streaming == batch, and finite values on degenerate input."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from rlimpro.descriptors import AnalysisSettings, Analyzer, StreamingAnalyzer
from rlimpro.descriptors.analyzer import smooth_frames
from rlimpro.descriptors.registry import DESCRIPTORS, GROUPS
from rlimpro.errors import AudioError, ParameterError

from .conftest import SR, sine


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer(AnalysisSettings())


def steady(analyzer, signal):
    """Mean over frames whose window lies inside the signal."""
    frames = analyzer.analyze(signal)
    return dict(zip(DESCRIPTORS, frames[2 : len(signal) // analyzer.settings.hop].mean(axis=0), strict=False))


def test_sine_440_centroid_pitch_chroma(analyzer):
    d = steady(analyzer, sine(440.0))
    assert_allclose(d["centroid"], 440.0, rtol=0.01, atol=0)
    assert_allclose(d["pitch-hz"], 440.0, rtol=0.01, atol=0)
    assert d["pitch-confidence"] > 0.9
    chroma = {name: d[name] for name in GROUPS["chroma"]}
    assert max(chroma, key=chroma.get) == "chroma-A"


@pytest.mark.parametrize("freq", [110.0, 261.63, 1000.0, 3000.0])
def test_pitch_follows_frequency(analyzer, freq):
    d = steady(analyzer, sine(freq, amp=0.3))
    assert_allclose(d["pitch-hz"], freq, rtol=0.01, atol=0)


def test_full_scale_sine_loudness(analyzer):
    d = steady(analyzer, sine(440.0, amp=1.0))
    assert_allclose(d["loudness-dBFS"], -3.01, atol=0.1, rtol=0)
    assert_allclose(d["loudness-peak"], 0.0, atol=0.01, rtol=0)


def test_flatness_noise_vs_sine(analyzer, rng):
    noise = rng.standard_normal(SR) * 0.3
    assert steady(analyzer, noise)["flatness"] > -6.0
    assert steady(analyzer, sine(440.0))["flatness"] < -30.0


def test_rolloff_and_spread_ordering(analyzer, rng):
    noise = steady(analyzer, rng.standard_normal(SR) * 0.3)
    tone = steady(analyzer, sine(440.0))
    assert noise["rolloff"] > 15000 > 1000 > tone["rolloff"]
    assert noise["spread"] > tone["spread"]
    assert_allclose(noise["centroid"], SR / 4, rtol=0.05, atol=0)


@pytest.mark.parametrize(
    "signal",
    [np.zeros(SR), np.full(SR, 0.5), np.full(SR, 1e-9), np.r_[np.zeros(SR // 2), np.full(SR // 2, -1.0)]],
    ids=["silence", "dc", "near-silence", "step"],
)
def test_degenerate_signals_are_finite(analyzer, signal):
    frames = analyzer.analyze(signal)
    assert np.isfinite(frames).all()


def test_documented_silence_values(analyzer):
    d = steady(analyzer, np.zeros(SR))
    assert d["loudness-dBFS"] == -120.0
    assert d["pitch-hz"] == 0.0 and d["pitch-confidence"] == 0.0
    assert d["centroid"] == 0.0 and d["flatness"] == 0.0 and d["crest"] == 0.0
    assert all(d[c] == 0.0 for c in GROUPS["chroma"])


def test_nan_input_is_sanitised(analyzer):
    x = sine(440.0)
    x[1000:1100] = np.nan
    assert np.isfinite(analyzer.analyze(x)).all()


@pytest.mark.parametrize("n_samples", [SR, 12345, 512, 100])
def test_frame_count(analyzer, n_samples):
    assert analyzer.analyze(np.ones(n_samples) * 0.1).shape == (-(-n_samples // 512), len(DESCRIPTORS))


@pytest.mark.parametrize("block", [512, 300, 4096, 1])
def test_streaming_equals_batch(analyzer, rng, block):
    x = sine(330.0, seconds=0.5) * np.linspace(0, 1, SR // 2) + 0.05 * rng.standard_normal(SR // 2)
    batch = analyzer.analyze(x)
    stream = StreamingAnalyzer(analyzer=analyzer)
    parts = [stream.push(x[i : i + block]) for i in range(0, len(x), block)] + [stream.flush()]
    streamed = np.vstack(parts)
    assert streamed.shape == batch.shape
    assert_allclose(streamed, batch, rtol=1e-6, atol=1e-9)


def test_streaming_equals_batch_with_smoothing(rng):
    settings = AnalysisSettings(smooth=4)
    a = Analyzer(settings)
    x = rng.standard_normal(SR // 4) * np.linspace(0, 1, SR // 4)
    batch = a.analyze(x)
    stream = StreamingAnalyzer(analyzer=a)
    streamed = np.vstack([stream.push(x), stream.flush()])
    assert_allclose(streamed, batch, rtol=1e-6, atol=1e-9)


def test_smooth_frames_is_causal_mean():
    f = np.arange(10, dtype=float)[:, None]
    out = smooth_frames(f, 3)
    assert_allclose(out[:, 0], [0, 0.5, 1, 2, 3, 4, 5, 6, 7, 8], atol=1e-12, rtol=0)


@pytest.mark.parametrize(
    "shape",
    [
        (3, 5000),  # every signal in one kernel call
        (7, 44100),  # 87 frames each: two signals per kernel call, the last group holds one
        (2, 200000),  # 391 frames each: more than one kernel call per signal
    ],
)
def test_analyze_many_matches_analyze(analyzer, rng, shape):
    x = rng.standard_normal(shape) * 0.2
    many = analyzer.analyze_many(x)
    assert many.shape == (shape[0], -(-shape[1] // 512), len(DESCRIPTORS))
    for i in range(shape[0]):
        assert_allclose(many[i], analyzer.analyze(x[i]), rtol=1e-10, atol=1e-12)


def test_other_settings_change_frames():
    a = Analyzer(AnalysisSettings(sample_rate=22050, window=2048, hop=256))
    d = dict(zip(DESCRIPTORS, a.analyze(sine(440.0, sr=22050))[10:80].mean(axis=0), strict=False))
    assert_allclose(d["pitch-hz"], 440.0, rtol=0.01, atol=0)


@pytest.mark.parametrize(
    "kwargs", [dict(window=1000), dict(hop=0), dict(hop=2048), dict(sample_rate=100), dict(smooth=0)]
)
def test_bad_settings(kwargs):
    with pytest.raises(ParameterError):
        AnalysisSettings(**kwargs)


def test_bad_signals(analyzer):
    with pytest.raises(AudioError):
        analyzer.analyze(np.zeros((2, 100)))
    with pytest.raises(AudioError):
        analyzer.analyze(np.zeros(0))
    with pytest.raises(AudioError):
        StreamingAnalyzer(analyzer=analyzer).push_hop(np.zeros(10))


def test_settings_roundtrip():
    s = AnalysisSettings(window=2048, hop=256, smooth=3)
    assert AnalysisSettings.from_dict(s.to_dict()) == s
