"""Log-mel spectrograms as small uint8 images, the observation a CNN feature extractor reads.

A sound of ``n`` samples becomes an image of ``n_mels`` rows (low frequencies first) by ``n_frames``
columns: ``n_frames`` Hann frames of ``n_fft`` samples spread evenly over the sound (zero-padded when it
is shorter than one frame), power mel bands in dB relative to a full-scale sine, the range
``[floor_db, 0]`` dB mapped linearly onto 0..255. Levels are absolute, so a louder sound is brighter.
Images are at least 36 x 36 (the smallest size SB3's image checks accept).
"""

from __future__ import annotations

import numpy as np

from rlimpro.errors import ParameterError

MIN_SIZE = 36


class MelImage:
    """Turn sounds into ``(n_mels, n_frames)`` uint8 log-mel images.

    Parameters
    ----------
    sample_rate : int
        Hz.
    n_samples : int
        Length of every sound to be imaged (fixes the frame positions).
    n_mels, n_frames : int
        Image size; each >= 36.
    n_fft : int
        Frame length, samples.
    floor_db : float
        Level (dB re. full-scale sine) mapped to 0; < 0.
    """

    def __init__(self, *, sample_rate: int, n_samples: int, n_mels: int = 40, n_frames: int = 40, n_fft: int = 512, floor_db: float = -80.0):
        from rlimpro.descriptors.filterbanks import mel_filterbank

        if n_mels < MIN_SIZE or n_frames < MIN_SIZE:
            raise ParameterError(f"spectrogram size {n_mels} x {n_frames}: both must be >= {MIN_SIZE}")
        if n_samples < 1:
            raise ParameterError(f"n_samples {n_samples} must be >= 1")
        if not floor_db < 0:
            raise ParameterError(f"floor_db {floor_db} must be < 0")
        self.shape = (n_mels, n_frames)
        self.n_fft = n_fft
        self.n_samples = n_samples
        self.floor_db = floor_db
        span = max(n_samples - n_fft, 0)
        self._starts = np.round(np.linspace(0, span, n_frames)).astype(np.int64)
        self._window = np.hanning(n_fft + 1)[:-1]
        self._mel = mel_filterbank(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=30.0).T.copy()
        # a full-scale sine at a band centre: |rfft| peak = sum(window) / 2
        self._ref = (self._window.sum() / 2.0) ** 2 * float(self._mel.max())

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        """The image of one sound.

        Parameters
        ----------
        audio : ndarray, shape (n_samples,)

        Returns
        -------
        ndarray, shape (n_mels, n_frames), uint8
        """
        x = np.asarray(audio, dtype=np.float64).ravel()
        if x.size != self.n_samples:
            raise ParameterError(f"expected {self.n_samples} samples, got {x.size}")
        if x.size < self.n_fft:
            x = np.concatenate([x, np.zeros(self.n_fft - x.size)])
        idx = self._starts[:, None] + np.arange(self.n_fft)[None, :]
        spec = np.fft.rfft(x[idx] * self._window, axis=1)
        power = (spec.real**2 + spec.imag**2) @ self._mel  # (frames, mels)
        db = 10.0 * np.log10(np.maximum(power / self._ref, 1e-12))
        scaled = np.clip((db - self.floor_db) / -self.floor_db, 0.0, 1.0) * 255.0
        return np.round(scaled.T).astype(np.uint8)
