"""Windows and filterbanks of the analyzer, in plain numpy.

They reproduce ``scipy.signal.get_window("hann", n)``, ``librosa.filters.mel`` (Slaney mel scale and
area normalisation) and ``librosa.filters.chroma`` (librosa 0.11, default arguments) value for value
(``tests/test_filterbanks.py`` compares them), without importing scipy.signal or librosa: that import
and librosa's first filter construction take about 0.8 s, which every stage and every live session
paid on start-up before the analyzer built its own.
"""

from __future__ import annotations

import numpy as np


def hann(n: int) -> np.ndarray:
    """Periodic Hann window (the FFT convention), shape (n,), float64: ``0.5 - 0.5 cos(2 pi k / n)``."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


_F_SP = 200.0 / 3.0  # Hz per mel below 1 kHz
_MIN_LOG_MEL = 1000.0 / _F_SP  # the mel of 1 kHz, computed as librosa does (15 + 2e-15)


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above."""
    hz = np.atleast_1d(np.asarray(hz, dtype=np.float64))
    mel = hz / _F_SP
    logstep = np.log(6.4) / 27.0
    high = hz >= 1000.0
    mel[high] = _MIN_LOG_MEL + np.log(hz[high] / 1000.0) / logstep
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.atleast_1d(np.asarray(mel, dtype=np.float64))
    hz = mel * _F_SP
    logstep = np.log(6.4) / 27.0
    high = mel >= _MIN_LOG_MEL
    hz[high] = 1000.0 * np.exp(logstep * (mel[high] - _MIN_LOG_MEL))
    return hz


def mel_filterbank(*, sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Triangular mel filters, Slaney scale and area normalisation (``librosa.filters.mel`` defaults).

    Parameters
    ----------
    sample_rate : int
        Hz.
    n_fft : int
        FFT size, samples.
    n_mels : int
        Number of bands.
    fmin, fmax : float
        Hz; ``fmax`` defaults to ``sample_rate / 2``.

    Returns
    -------
    ndarray, shape (n_mels, n_fft // 2 + 1), float32
    """
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    fftfreqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(fmin)[0], _hz_to_mel(fmax)[0], n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, fftfreqs.size), dtype=np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights


def chroma_filterbank(*, sample_rate: int, n_fft: int, n_chroma: int = 12, base_c: bool = False) -> np.ndarray:
    """Chroma filters (Ellis's Gaussian bumps, ``librosa.filters.chroma`` defaults but ``base_c``).

    Parameters
    ----------
    sample_rate : int
        Hz.
    n_fft : int
        FFT size, samples.
    n_chroma : int
        Bins per octave.
    base_c : bool
        Start at C (True) or at A (False, as the analyzer does).

    Returns
    -------
    ndarray, shape (n_chroma, n_fft // 2 + 1), float32
    """
    frequencies = np.linspace(0, sample_rate, n_fft, endpoint=False)[1:]
    frqbins = n_chroma * np.log2(frequencies / (440.0 / 16))
    frqbins = np.concatenate(([frqbins[0] - 1.5 * n_chroma], frqbins))
    binwidthbins = np.concatenate((np.maximum(frqbins[1:] - frqbins[:-1], 1.0), [1]))
    d = np.subtract.outer(frqbins, np.arange(0, n_chroma, dtype="d")).T
    half = np.round(float(n_chroma) / 2)
    d = np.remainder(d + half + 10 * n_chroma, n_chroma) - half
    wts = np.exp(-0.5 * (2 * d / np.tile(binwidthbins, (n_chroma, 1))) ** 2)
    wts = wts / np.sqrt(np.sum(wts**2, axis=0, keepdims=True))  # unit L2 norm per FFT bin
    wts *= np.tile(np.exp(-0.5 * (((frqbins / n_chroma - 5.0) / 2.0) ** 2)), (n_chroma, 1))
    if base_c:
        wts = np.roll(wts, -3 * (n_chroma // 12), axis=0)
    return np.ascontiguousarray(wts[:, : int(1 + n_fft / 2)], dtype=np.float32)
