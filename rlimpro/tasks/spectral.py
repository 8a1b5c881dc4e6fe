"""Multi-scale spectral distance between two sounds (as in DDSP, Engel et al. 2020, and synth matching).

For each FFT size ``n`` in ``scales`` (Hann window, hop ``n / 4``), with magnitude spectrograms
``S`` (the sound) and ``T`` (the target)::

    d_n = ||S - T||_F / ||T||_F  +  mean |log(S + eps) - log(T + eps)|

and the distance is the mean of ``d_n`` over the scales (dimensionless, 0 for identical sounds,
about 1-3 for unrelated ones). The first term (spectral convergence) weighs the loud partials, the
second (log magnitude) the quiet ones. With ``level_invariant`` (the default) both sounds are scaled
to unit RMS first, so a synth with a fixed output level can match a quieter recording.
"""

from __future__ import annotations

import numpy as np

from rlimpro.errors import ParameterError

DEFAULT_SCALES = (2048, 1024, 512, 256, 128, 64)
LOG_EPS = 1e-5


class MultiScaleSpectrum:
    """Magnitude spectrograms at several FFT sizes, and the distance between two sets of them.

    Parameters
    ----------
    scales : sequence of int
        FFT sizes (powers of two >= 16); sizes longer than the sound are left out.
    level_invariant : bool
        Scale each sound to unit RMS before the analysis.
    """

    def __init__(self, *, scales: tuple[int, ...] = DEFAULT_SCALES, level_invariant: bool = True):
        scales = tuple(int(s) for s in scales)
        if not scales or any(s < 16 or s & (s - 1) for s in scales):
            raise ParameterError(f"spectral scales {scales} must be powers of two >= 16")
        self.scales = scales
        self.level_invariant = level_invariant
        self._windows = {n: np.hanning(n + 1)[:-1] for n in scales}

    def spectra(self, audio: np.ndarray) -> list[np.ndarray]:
        """Magnitude spectrograms of a mono sound, one (frames, n/2 + 1) array per usable scale.

        Parameters
        ----------
        audio : ndarray, shape (n_samples,)

        Raises
        ------
        ParameterError
            The sound is shorter than the smallest scale.
        """
        x = np.asarray(audio, dtype=np.float64).ravel()
        if self.level_invariant:
            rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
            if rms > 1e-8:
                x = x / rms
        out = []
        for n in self.scales:
            if x.size < n:
                continue
            hop = n // 4
            frames = np.lib.stride_tricks.sliding_window_view(x, n)[::hop]
            out.append(np.abs(np.fft.rfft(frames * self._windows[n], axis=1)))
        if not out:
            raise ParameterError(f"a sound of {x.size} samples is shorter than the smallest spectral scale ({min(self.scales)})")
        return out

    @staticmethod
    def distance(a: list[np.ndarray], b: list[np.ndarray]) -> float:
        """Distance of sound ``a`` to target ``b`` from their :meth:`spectra` (same lengths), >= 0."""
        total = 0.0
        for s, t in zip(a, b, strict=True):
            d = s - t  # Frobenius norms as plain sums: BLAS dot is slower for these small arrays
            conv = np.sqrt(np.sum(d * d)) / max(float(np.sqrt(np.sum(t * t))), 1e-12)
            logd = np.mean(np.abs(np.log((s + LOG_EPS) / (t + LOG_EPS))))
            total += float(conv) + float(logd)
        return total / len(a)
