"""The descriptors in musical units: hand-computed notes, the unpitched value, derivation after averaging."""

import numpy as np
from numpy.testing import assert_allclose

from rlimpro.descriptors import AnalysisSettings, Analyzer, StreamingAnalyzer
from rlimpro.descriptors.derived import PITCHED_CONFIDENCE, UNPITCHED, derive, hz_to_midi, is_pitched
from rlimpro.descriptors.registry import DESCRIPTORS, descriptor_index
from rlimpro.lookup import aggregate_frames
from tests.conftest import sine

IX = {n: descriptor_index(n) for n in DESCRIPTORS}


def test_hz_to_midi_hand_values():
    assert_allclose(hz_to_midi(np.array([440.0, 880.0, 261.6255653, 8.1757989])), [69.0, 81.0, 60.0, 0.0], atol=1e-6, rtol=0)
    assert hz_to_midi(np.array([0.0, 5.0])).tolist() == [0.0, 0.0]  # silence / below MIDI 0


def test_sine_pitch_midi_and_centroid_midi():
    frames = Analyzer().analyze(sine(440.0, seconds=0.5, amp=0.5))[4:-2]
    assert_allclose(frames[:, IX["pitch-midi"]], 69.0, atol=0.05, rtol=0)  # 0.05 semitones = 3 cents
    # centroid-midi is the note of the centroid (442 Hz for a Hann-windowed 440 Hz sine)
    assert_allclose(frames[:, IX["centroid-midi"]], hz_to_midi(frames[:, IX["centroid"]]), atol=1e-9, rtol=0)


def test_noise_and_silence_are_unpitched():
    rng = np.random.default_rng(0)
    an = Analyzer()
    noise = an.analyze(0.3 * rng.standard_normal(22050))[4:-2]
    assert (noise[:, IX["pitch-confidence"]] < PITCHED_CONFIDENCE).mean() > 0.9
    assert (noise[~is_pitched(noise), IX["pitch-midi"]] == UNPITCHED).all()
    silent = an.analyze(np.zeros(4096))
    assert (silent[:, IX["pitch-midi"]] == 0.0).all() and (silent[:, IX["centroid-midi"]] == 0.0).all()


def test_derived_after_averaging_not_averaged():
    """A lookup row's pitch-midi is the note of its mean pitch, not a mean of notes and zeros."""
    s = AnalysisSettings()
    frames = np.zeros((1, 10, len(DESCRIPTORS)))
    frames[0, :, IX["pitch-hz"]] = 440.0
    frames[0, :, IX["pitch-confidence"]] = 0.95
    frames[0, :3, IX["pitch-confidence"]] = 0.5  # three frames below the threshold
    derive(frames)
    row = aggregate_frames(frames, settings=s, n_samples=10 * s.hop)
    assert row[0, IX["pitch-midi"]] == 69.0  # mean confidence 0.815 >= 0.8: pitched
    frames[0, :6, IX["pitch-confidence"]] = 0.5
    row = aggregate_frames(derive(frames), settings=s, n_samples=10 * s.hop)
    assert row[0, IX["pitch-midi"]] == UNPITCHED


def test_streaming_with_smoothing_equals_batch_on_derived_columns():
    s = AnalysisSettings(smooth=4)
    sig = np.concatenate([sine(300.0, seconds=0.3), np.random.default_rng(1).standard_normal(8000) * 0.2])
    batch = Analyzer(s).analyze(sig)
    stream = StreamingAnalyzer(s)
    frames = np.concatenate([stream.push(sig[i : i + 700]) for i in range(0, len(sig), 700)] + [stream.flush()])
    assert_allclose(frames, batch, atol=1e-6, rtol=1e-6)
