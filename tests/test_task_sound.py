"""Listening for the sound tasks: multi-scale spectral distance, log-mel images, the Listener."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from rlimpro.descriptors.analyzer import AnalysisSettings
from rlimpro.descriptors.registry import DESCRIPTORS
from rlimpro.errors import ParameterError
from rlimpro.tasks.listener import Listener, feature_space_from_sounds, mean_descriptors
from rlimpro.tasks.melimage import MelImage
from rlimpro.tasks.spectral import MultiScaleSpectrum

SR = 22050
N = 5512  # 0.25 s


def tone(freq: float, amp: float = 0.5, n: int = N, harmonics: int = 1) -> np.ndarray:
    t = np.arange(n) / SR
    return sum(amp / k * np.sin(2 * np.pi * k * freq * t) for k in range(1, harmonics + 1))


def test_spectral_distance_is_zero_for_the_same_sound_and_grows_with_the_difference():
    ms = MultiScaleSpectrum()
    a = ms.spectra(tone(440))
    assert len(a) == 6 and a[0].shape[1] == 1025
    assert ms.distance(a, a) == 0.0
    near = ms.distance(ms.spectra(tone(450)), a)
    far = ms.distance(ms.spectra(tone(1500)), a)
    assert 0 < near < far


def test_spectral_distance_is_level_invariant_by_default_only():
    quiet, loud = tone(300, amp=0.05), tone(300, amp=0.8)
    inv = MultiScaleSpectrum()
    assert inv.distance(inv.spectra(quiet), inv.spectra(loud)) < 1e-9
    raw = MultiScaleSpectrum(level_invariant=False)
    assert raw.distance(raw.spectra(quiet), raw.spectra(loud)) > 0.5


def test_spectral_scales_longer_than_the_sound_are_left_out_and_too_short_is_an_error():
    ms = MultiScaleSpectrum()
    assert len(ms.spectra(np.zeros(300))) == 3  # 256, 128, 64
    with pytest.raises(ParameterError, match="shorter than the smallest spectral scale"):
        ms.spectra(np.zeros(40))
    with pytest.raises(ParameterError, match="powers of two"):
        MultiScaleSpectrum(scales=(100,))


def test_mel_image_shape_levels_and_pitch_position():
    img = MelImage(sample_rate=SR, n_samples=N)
    silent = img(np.zeros(N))
    assert silent.shape == (40, 40) and silent.dtype == np.uint8 and silent.max() == 0
    low, high = img(tone(200, amp=0.9)), img(tone(4000, amp=0.9))
    # the brightest row moves up with the pitch; a full-scale tone reaches near the top of the range
    assert np.argmax(low.mean(axis=1)) < np.argmax(high.mean(axis=1))
    assert low.max() > 200
    quieter = img(tone(200, amp=0.09))  # -20 dB: 20/80 of the range darker
    assert_allclose(float(low.max()) - float(quieter.max()), 255 * 20 / 80, atol=3)


def test_mel_image_refuses_small_sizes_and_wrong_lengths():
    with pytest.raises(ParameterError, match=">= 36"):
        MelImage(sample_rate=SR, n_samples=N, n_mels=32)
    img = MelImage(sample_rate=SR, n_samples=256)  # shorter than one frame: zero-padded
    assert img(tone(440, n=256)).shape == (40, 40)
    with pytest.raises(ParameterError, match="expected 256 samples"):
        img(np.zeros(300))


def test_listener_descriptor_distance_and_mean_descriptors():
    settings = AnalysisSettings(sample_rate=SR, window=1024, hop=512)
    sounds = np.stack([tone(f, harmonics=h) for f in (110, 220, 440, 880) for h in (1, 4)])
    fs = feature_space_from_sounds(sounds, analysis=settings, features=["pitch", "centroid"], features_reward=["pitch-hz"], n_params=2)
    listener = Listener(sample_rate=SR, n_samples=N, analysis=settings, feature_space=fs)
    a, b = listener.listen(tone(440)), listener.listen(tone(880))
    assert a.descriptors.shape == (len(DESCRIPTORS),) and a.spectra is None and a.image is None
    assert_allclose(a.descriptors[DESCRIPTORS.index("pitch-hz")], 440, rtol=0.01)
    expected = abs(440 - 880) / fs.std[DESCRIPTORS.index("pitch-hz")]
    assert_allclose(listener.distance(a, b), expected, rtol=0.02)
    assert listener.distance(a, a) == 0.0
    # a sound shorter than two windows: the mean over all its frames
    short = mean_descriptors(listener.analyzer, tone(440, n=1000))
    assert np.isfinite(short).all()


def test_listener_spectral_and_spectrogram_modes():
    settings = AnalysisSettings(sample_rate=SR, window=1024, hop=512)
    listener = Listener(sample_rate=SR, n_samples=N, analysis=settings, distance="spectral", observation="spectrogram")
    heard = listener.listen(tone(440))
    assert heard.descriptors is None and heard.image.shape == (40, 40) and len(heard.spectra) == 6
    assert listener.distance(heard, heard) == 0.0
    with pytest.raises(ParameterError, match="need a feature space"):
        Listener(sample_rate=SR, n_samples=N, analysis=settings)
    with pytest.raises(ParameterError, match="distance 'l2'"):
        Listener(sample_rate=SR, n_samples=N, analysis=settings, distance="l2")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="differs from the task's"):
        Listener(sample_rate=44100, n_samples=N, analysis=settings, distance="spectral", observation="spectrogram")
    with pytest.raises(ParameterError, match="shorter than the smallest spectral scale"):
        Listener(sample_rate=SR, n_samples=40, analysis=settings, distance="spectral", observation="spectrogram")
