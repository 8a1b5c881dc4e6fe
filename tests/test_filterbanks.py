"""The analyzer's own window and filterbanks equal scipy's and librosa's, which they replace."""

from __future__ import annotations

import subprocess
import sys

import librosa
import numpy as np
import pytest
import scipy.signal
from numpy.testing import assert_allclose, assert_array_equal

from rlimpro.descriptors.filterbanks import chroma_filterbank, hann, mel_filterbank

SETTINGS = [(44100, 1024, 40), (48000, 2048, 40), (22050, 512, 20), (8000, 256, 40), (96000, 4096, 40)]


@pytest.mark.parametrize(("sr", "n_fft", "n_mels"), SETTINGS)
def test_mel_equals_librosa(sr, n_fft, n_mels):
    ours = mel_filterbank(sample_rate=sr, n_fft=n_fft, n_mels=n_mels)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=0.0, fmax=sr / 2)
    assert ours.dtype == ref.dtype == np.float32
    assert_array_equal(ours, ref)


def test_mel_band_limits_equal_librosa():
    ours = mel_filterbank(sample_rate=44100, n_fft=1024, n_mels=30, fmin=80.0, fmax=8000.0)
    assert_array_equal(ours, librosa.filters.mel(sr=44100, n_fft=1024, n_mels=30, fmin=80.0, fmax=8000.0))


@pytest.mark.parametrize(("sr", "n_fft", "_"), SETTINGS)
@pytest.mark.parametrize("base_c", [False, True])
def test_chroma_equals_librosa(sr, n_fft, _, base_c):
    ours = chroma_filterbank(sample_rate=sr, n_fft=n_fft, base_c=base_c)
    ref = librosa.filters.chroma(sr=sr, n_fft=n_fft, n_chroma=12, base_c=base_c)
    assert ours.dtype == ref.dtype == np.float32
    assert_array_equal(ours, ref)


@pytest.mark.parametrize("n", [64, 1024, 4096])
def test_hann_equals_scipy(n):
    assert_allclose(hann(n), scipy.signal.get_window("hann", n, fftbins=True), rtol=0, atol=1e-15)


def test_building_an_analyzer_imports_neither_librosa_nor_scipy_signal():
    code = (
        "import sys; from rlimpro.descriptors.analyzer import Analyzer; Analyzer(); "
        "print(sorted(m for m in ('librosa', 'scipy.signal') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
