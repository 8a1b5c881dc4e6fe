"""The descriptor analyzer: one frame kernel, a batch driver and a streaming driver.

Framing (shared by both drivers): frame ``i`` is the ``window`` samples ending at sample
``(i + 1) * hop`` (zeros before the signal starts), so a signal of ``n`` samples has
``ceil(n / hop)`` frames, frame ``i`` is stamped ``time = i * hop / sample_rate`` seconds, and the
streaming analyzer emits frame ``i`` the moment hop ``i`` has arrived. Feeding a file hop by hop to
:class:`StreamingAnalyzer` therefore reproduces :meth:`Analyzer.analyze` to float precision.

Optional smoothing is a causal rolling mean over ``smooth`` frames, in both drivers.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import Any

import numpy as np
import scipy.fft

from rlimpro.descriptors.derived import derive
from rlimpro.descriptors.registry import DESCRIPTORS, GROUPS, descriptor_index
from rlimpro.errors import AudioError, ParameterError

LOUDNESS_FLOOR_DB = -120.0  #: loudness of silence, dBFS
MEL_FLOOR_DB = -100.0  #: floor of the log-mel bands, dB
N_MELS = 40
N_MFCC = 13
ROLLOFF = 0.95
YIN_THRESHOLD = 0.15
_SILENCE_RMS = 1e-6  # below this (-120 dBFS) a frame is treated as silence
# Frames per kernel call in the batch drivers. Small enough that a call's temporaries (about 2 MiB
# each) stay in the CPU's caches and are reused by the allocator (see workers.keep_freed_memory):
# 256 frames run 1.7x faster than 4096 on the 2-core CI machine (bench/bench_pd.py, "analysis only").
_CHUNK_FRAMES = 256
# kernel output columns, by name (the derived -midi columns are filled by derive())
_MFCC = slice(descriptor_index("mfcc-0"), descriptor_index("mfcc-12") + 1)
_CHROMA = slice(descriptor_index("chroma-A"), descriptor_index("chroma-G#") + 1)
_SHAPE = slice(descriptor_index("centroid"), descriptor_index("crest") + 1)
_PITCH = slice(descriptor_index("pitch-hz"), descriptor_index("pitch-confidence") + 1)
assert GROUPS["specshape"][:7] == ("centroid", "spread", "skewness", "kurtosis", "rolloff", "flatness", "crest")


@dataclasses.dataclass(frozen=True)
class AnalysisSettings:
    """Analysis settings; part of every table's metadata.

    Parameters
    ----------
    sample_rate : int
        Hz. Audio at another rate is resampled before analysis.
    window : int
        FFT window, samples (Hann).
    hop : int
        Samples between frames; ``1 <= hop <= window``.
    smooth : int
        Causal rolling mean over this many frames (1 = none).
    """

    sample_rate: int = 44100
    window: int = 1024
    hop: int = 512
    smooth: int = 1

    def __post_init__(self) -> None:
        if not (8000 <= self.sample_rate <= 192000):
            raise ParameterError(f"sample_rate {self.sample_rate} Hz is outside 8000..192000")
        if self.window < 64 or self.window & (self.window - 1):
            raise ParameterError(f"window {self.window} must be a power of two >= 64")
        if not (1 <= self.hop <= self.window):
            raise ParameterError(f"hop {self.hop} must be between 1 and the window ({self.window})")
        if self.smooth < 1:
            raise ParameterError(f"smooth {self.smooth} must be >= 1 frame")

    def to_dict(self) -> dict[str, Any]:
        """The settings as stored in sidecars (with the fixed kernel constants, so they are compared too)."""
        return {
            **dataclasses.asdict(self),
            "n_mels": N_MELS,
            "n_mfcc": N_MFCC,
            "yin_threshold": YIN_THRESHOLD,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalysisSettings:
        """Inverse of :meth:`to_dict` (kernel constants are ignored; compare dicts to check them)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})

    def n_frames(self, n_samples: int) -> int:
        """Number of frames of a signal of ``n_samples`` samples: ``ceil(n_samples / hop)``."""
        return -(-int(n_samples) // self.hop)


class Analyzer:
    """Batch analyzer. Filterbanks and windows are built once, at construction.

    Parameters
    ----------
    settings : AnalysisSettings
    """

    def __init__(self, settings: AnalysisSettings | None = None):
        from rlimpro.descriptors.filterbanks import chroma_filterbank, hann, mel_filterbank
        from rlimpro.workers import keep_freed_memory

        keep_freed_memory()  # the batch drivers' temporaries are reused, not page-faulted anew
        self.settings = settings or AnalysisSettings()
        sr, n = self.settings.sample_rate, self.settings.window
        self.names: tuple[str, ...] = DESCRIPTORS
        self._hann = hann(n)
        self._freqs = np.fft.rfftfreq(n, 1.0 / sr)
        self._fpow = np.stack([(self._freqs / 1000.0) ** j for j in range(5)], axis=1)
        # librosa's float32 filters, held as float64 so the matrix products do not convert them per call
        self._mel = mel_filterbank(sample_rate=sr, n_fft=n, n_mels=N_MELS).T.astype(np.float64)
        self._chroma = chroma_filterbank(sample_rate=sr, n_fft=n, base_c=False).T.astype(np.float64)
        self._integ = n // 4
        self._tau = np.arange(n + 1, dtype=np.float64)
        box = np.zeros(n, dtype=np.float32)
        box[: self._integ] = 1.0
        self._box = np.conj(scipy.fft.rfft(box))  # correlating with it sums windows of window/4 samples

    # ------------------------------------------------------------------ kernel
    def kernel(self, frames: np.ndarray) -> np.ndarray:
        """Descriptors of frames.

        Parameters
        ----------
        frames : ndarray, shape (n, window)
            Time-domain frames, float, full scale = 1.

        Returns
        -------
        ndarray, shape (n, len(DESCRIPTORS)), float64
            Columns in canonical order (see :mod:`rlimpro.descriptors.registry`). Always finite.
        """
        x = np.asarray(frames, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.settings.window:
            raise ParameterError(f"frames must have shape (n, {self.settings.window}), got {x.shape}")
        if not np.isfinite(x).all():
            x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
        out = np.empty((x.shape[0], len(DESCRIPTORS)), dtype=np.float64)

        # loudness
        rms = np.sqrt(np.mean(x * x, axis=1))
        peak = np.max(np.abs(x), axis=1)
        out[:, 0] = 20.0 * np.log10(np.maximum(rms, _SILENCE_RMS))
        out[:, 1] = 20.0 * np.log10(np.maximum(peak, _SILENCE_RMS))

        spec = scipy.fft.rfft(x * self._hann, axis=1)
        power = spec.real**2 + spec.imag**2
        mag = np.sqrt(power)

        # mfcc: DCT-II (ortho) of log-mel power in dB
        mel_db = 10.0 * np.log10(np.maximum(power @ self._mel, 10.0 ** (MEL_FLOOR_DB / 10.0)))
        out[:, _MFCC] = scipy.fft.dct(mel_db, type=2, norm="ortho", axis=1)[:, :N_MFCC]

        # chroma, max-normalised
        chroma = power @ self._chroma
        cmax = chroma.max(axis=1, keepdims=True)
        out[:, _CHROMA] = np.where(cmax > 1e-20, chroma / np.where(cmax > 1e-20, cmax, 1.0), 0.0)

        # spectral shape (moments of the magnitude spectrum)
        out[:, _SHAPE] = self._specshape(mag, power)

        # pitch (YIN on the mean-removed frame)
        out[:, _PITCH] = self._yin((x - x.mean(axis=1, keepdims=True)).astype(np.float32))
        return derive(out)

    def _specshape(self, mag: np.ndarray, power: np.ndarray) -> np.ndarray:
        # Central moments from raw moments of the normalised magnitude spectrum (one matmul);
        # frequencies in kHz keep the powers well scaled.
        raw = mag @ self._fpow  # (n, 5): sum mag * f_k^j, j = 0..4
        total = raw[:, 0]
        live = total > 1e-12
        safe = np.where(live, total, 1.0)
        m1 = raw[:, 1] / safe
        m2 = raw[:, 2] / safe
        m3 = raw[:, 3] / safe
        m4 = raw[:, 4] / safe
        var = np.maximum(m2 - m1 * m1, 0.0)
        c3 = m3 - 3.0 * m1 * m2 + 2.0 * m1**3
        c4 = m4 - 4.0 * m1 * m3 + 6.0 * m1 * m1 * m2 - 3.0 * m1**4
        spread = np.sqrt(var)
        ok = spread > 1e-6  # kHz
        s_safe = np.where(ok, spread, 1.0)
        skew = np.where(ok, c3 / s_safe**3, 0.0)
        kurt = np.where(ok, c4 / s_safe**4, 0.0)
        cum = np.cumsum(power, axis=1)
        roll_idx = np.argmax(cum >= ROLLOFF * cum[:, -1:], axis=1)
        rolloff = self._freqs[roll_idx]
        amin = 1e-20
        flat = (10.0 / np.log(10.0)) * (
            np.mean(np.log(np.maximum(power, amin)), axis=1) - np.log(np.maximum(np.mean(power, axis=1), amin))
        )
        crest = 20.0 * np.log10(np.maximum(mag.max(axis=1), 1e-10) / np.maximum(total / mag.shape[1], 1e-10))
        res = np.stack([m1 * 1000.0, spread * 1000.0, skew, kurt, rolloff, flat, crest], axis=1)
        res[~live] = 0.0
        return res

    def _yin(self, x: np.ndarray) -> np.ndarray:
        """YIN pitch and confidence, shape (n, 2).

        Difference function over an integration window of ``window/4`` samples, lags up to
        ``3 * window / 4`` (lowest pitch ``4 * sr / (3 * window)``: 57 Hz at 44.1 kHz / 1024).
        """
        n, w = x.shape
        hi = self._integ
        lmax = w - hi
        sr = self.settings.sample_rate
        # d(tau) = e0 + e(tau) - 2 r(tau), with the cross term r(tau) = sum_{j<hi} x_j x_{j+tau} and the
        # window energy e(tau) = sum_{j<hi} x_{j+tau}^2 both correlations, so one inverse FFT gives
        # e(tau) - 2 r(tau). nfft = w: j + tau <= w - 1, so the circular correlations never wrap.
        x2 = x * x
        a = scipy.fft.rfft(x[:, :hi], n=w, axis=1)
        b = scipy.fft.rfft(x, n=w, axis=1)
        q = scipy.fft.irfft(scipy.fft.rfft(x2, axis=1) * self._box - 2.0 * (np.conj(a) * b), n=w, axis=1)
        d = q[:, : lmax + 1].astype(np.float64)
        d += x2[:, :hi].sum(axis=1, dtype=np.float64)[:, None]  # e0
        np.maximum(d, 0.0, out=d)
        # cumulative mean normalised difference over lags 1..lmax (index 0 <-> lag 1)
        dl = d[:, 1:]
        cmnd = dl * self._tau[1 : lmax + 1]
        cmnd /= np.maximum(np.cumsum(dl, axis=1), 1e-30)
        # first lag (>= 2) below threshold that is a local minimum, else the global minimum
        cur = cmnd[:, 1 : lmax - 1]
        nxt = cmnd[:, 2:lmax]
        cand = (cur < YIN_THRESHOLD) & (cur <= nxt)
        has = cand.any(axis=1)
        first = np.argmax(cand, axis=1)
        glob = np.argmin(cur, axis=1)
        k = np.where(has, first, glob) + 2  # lag
        rows = np.arange(n)
        y0 = cmnd[rows, k - 2]
        y1 = cmnd[rows, k - 1]
        y2 = cmnd[rows, np.minimum(k, lmax - 1)]
        denom = y0 - 2.0 * y1 + y2
        ok = np.abs(denom) > 1e-12
        shift = np.clip(np.where(ok, 0.5 * (y0 - y2) / np.where(ok, denom, 1.0), 0.0), -1.0, 1.0)
        pitch = sr / (k + shift)
        conf = np.clip(1.0 - y1, 0.0, 1.0)
        silent = np.sqrt(x2.sum(axis=1, dtype=np.float64) / w) < _SILENCE_RMS
        pitch[silent] = 0.0
        conf[silent] = 0.0
        return np.stack([pitch, conf], axis=1)

    # ------------------------------------------------------------------ batch driver
    def frames(self, signal: np.ndarray) -> np.ndarray:
        """Frame a mono signal, shape (n_samples,) -> (ceil(n_samples / hop), window) (a view where possible)."""
        s = self.settings
        sig = np.asarray(signal, dtype=np.float64)
        n_frames = s.n_frames(sig.shape[-1])
        total = (n_frames - 1) * s.hop + s.window
        padded = np.zeros(total, dtype=np.float64)
        padded[s.window - s.hop : s.window - s.hop + sig.shape[-1]] = sig
        return np.lib.stride_tricks.sliding_window_view(padded, s.window)[:: s.hop][:n_frames]

    def analyze(self, signal: np.ndarray) -> np.ndarray:
        """Descriptors of every frame of a mono signal.

        Parameters
        ----------
        signal : ndarray, shape (n_samples,)
            Mono audio at ``settings.sample_rate``, full scale = 1.

        Returns
        -------
        ndarray, shape (ceil(n_samples / hop), len(DESCRIPTORS)), float64

        Raises
        ------
        AudioError
            The signal is not one-dimensional or is empty.
        """
        sig = np.asarray(signal)
        if sig.ndim != 1 or sig.size == 0:
            raise AudioError(f"expected a non-empty mono signal, got shape {sig.shape}")
        fr = self.frames(sig)
        out = np.empty((fr.shape[0], len(DESCRIPTORS)))
        for start in range(0, fr.shape[0], _CHUNK_FRAMES):
            out[start : start + _CHUNK_FRAMES] = self.kernel(fr[start : start + _CHUNK_FRAMES])
        return smooth_frames(out, self.settings.smooth)

    def analyze_many(self, signals: np.ndarray) -> np.ndarray:
        """Descriptors of several equal-length signals at once, shape (B, n_samples) -> (B, n_frames, D)."""
        sig = np.asarray(signals)
        if sig.ndim != 2 or sig.shape[1] == 0:
            raise AudioError(f"expected signals of shape (B, n_samples), got {sig.shape}")
        b = sig.shape[0]
        f = self.settings.n_frames(sig.shape[1])
        out = np.empty((b, f, len(DESCRIPTORS)))
        flat = out.reshape(b * f, -1)  # a view: rows are (signal, frame) in C order
        group = max(1, _CHUNK_FRAMES // f)  # signals whose frames are stacked for one kernel call
        for first in range(0, b, group):
            fr = np.concatenate([self.frames(s) for s in sig[first : first + group]])
            for i in range(0, fr.shape[0], _CHUNK_FRAMES):
                part = fr[i : i + _CHUNK_FRAMES]
                flat[first * f + i : first * f + i + part.shape[0]] = self.kernel(part)
        if self.settings.smooth > 1:
            out = np.stack([smooth_frames(o, self.settings.smooth) for o in out])
        return out

    def times(self, n_frames: int) -> np.ndarray:
        """Frame times in seconds, shape (n_frames,): ``i * hop / sample_rate``."""
        return np.arange(n_frames) * self.settings.hop / self.settings.sample_rate


def smooth_frames(frames: np.ndarray, n: int) -> np.ndarray:
    """Causal rolling mean over ``n`` frames (fewer at the start), shape preserved; for descriptor
    frames (``len(DESCRIPTORS)`` columns) the derived ``-midi`` columns are derived again from the
    smoothed values."""
    if n <= 1:
        return frames
    cs = np.cumsum(np.vstack([np.zeros((1, frames.shape[1])), frames]), axis=0)
    idx = np.arange(1, frames.shape[0] + 1)
    lo = np.maximum(idx - n, 0)
    out = (cs[idx] - cs[lo]) / (idx - lo)[:, None]
    return derive(out) if out.shape[1] == len(DESCRIPTORS) else out


class StreamingAnalyzer:
    """Streaming driver: feed audio in blocks of any size, get one descriptor frame per completed hop.

    Uses the same kernel as :class:`Analyzer`; a file fed hop by hop gives the batch frames.

    Parameters
    ----------
    settings : AnalysisSettings
    analyzer : Analyzer, optional
        Reuse an analyzer's filterbanks.
    """

    def __init__(self, settings: AnalysisSettings | None = None, *, analyzer: Analyzer | None = None):
        self.analyzer = analyzer or Analyzer(settings)
        self.settings = self.analyzer.settings
        self._buf = np.zeros(self.settings.window)
        self._pending = np.zeros(0)
        self._recent: deque[np.ndarray] = deque(maxlen=self.settings.smooth)
        self.frames_emitted = 0

    def reset(self) -> None:
        """Forget all audio (start of a new stream)."""
        self._buf[:] = 0.0
        self._pending = np.zeros(0)
        self._recent.clear()
        self.frames_emitted = 0

    def push_hop(self, hop: np.ndarray) -> np.ndarray:
        """Analyze exactly one hop of ``hop`` samples; returns the frame, shape (len(DESCRIPTORS),)."""
        h = self.settings.hop
        hop = np.asarray(hop, dtype=np.float64)
        if hop.shape != (h,):
            raise AudioError(f"push_hop expects {h} samples, got shape {hop.shape}")
        self._buf[:-h] = self._buf[h:]
        self._buf[-h:] = hop
        frame = self.analyzer.kernel(self._buf[None, :])[0]
        self.frames_emitted += 1
        if self.settings.smooth > 1:
            self._recent.append(frame)
            return derive(np.mean(np.stack(self._recent), axis=0))
        return frame

    def push(self, block: np.ndarray) -> np.ndarray:
        """Feed a block of any length; returns the frames completed by it, shape (k, len(DESCRIPTORS))."""
        data = np.concatenate([self._pending, np.asarray(block, dtype=np.float64).ravel()])
        h = self.settings.hop
        k = data.size // h
        frames = [self.push_hop(data[i * h : (i + 1) * h]) for i in range(k)]
        self._pending = data[k * h :].copy()
        if not frames:
            return np.zeros((0, len(DESCRIPTORS)))
        return np.stack(frames)

    def flush(self) -> np.ndarray:
        """Zero-pad the last incomplete hop (as the batch driver does) and return its frame, if any."""
        if self._pending.size == 0:
            return np.zeros((0, len(DESCRIPTORS)))
        pad = np.zeros(self.settings.hop - self._pending.size)
        return self.push(pad)
