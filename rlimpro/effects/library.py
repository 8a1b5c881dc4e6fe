"""The native effects: a resonant filter, gain, a waveshaping distortion and a feedback delay.

Each parameter is a float in [0, 1] mapped onto a physical range (options change the ranges):

============ =============================== ===================================================
effect       parameters                      mapping (defaults)
============ =============================== ===================================================
filter       cutoff, resonance               cutoff 40 Hz .. 16 kHz (exponential, at most 0.45 sr);
(lowpass,                                    resonance Q 0.5 .. 10 (exponential). RBJ biquad
bandpass,                                    (Bristow-Johnson, "Audio EQ Cookbook"); the band-pass
highpass)                                    has 0 dB gain at its centre
gain         level                           -60 .. +12 dB (linear in dB)
distortion   drive                           tanh waveshaper ``tanh(k x) / tanh(k)``, drive
                                             ``k`` = 0 .. 30 dB (linear in dB); peaks of ±1 stay ±1
delay        time, feedback, mix             time 20 .. 500 ms (exponential), feedback 0 .. 0.85,
                                             mix 0 .. 1: ``y = x + mix * echo``
============ =============================== ===================================================

The filter updates its coefficients every :data:`~rlimpro.effects.base.CONTROL_BLOCK` samples while
a parameter ramps (once per block when it does not) and keeps its memory as the last two inputs and
outputs (direct form I), from which the state of SciPy's transposed direct form II is rebuilt for the
new coefficients: a coefficient change never leaves stale internal state behind, so modulation
does not click or blow up.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.signal

from rlimpro.effects.base import CONTROL_BLOCK, Effect, check_option, exp_map, lin_map
from rlimpro.errors import ParameterError

FILTER_MODES = ("lowpass", "bandpass", "highpass")


class Filter(Effect):
    """Resonant biquad filter (low-pass, band-pass or high-pass).

    Parameters
    ----------
    sample_rate : int
        Hz.
    mode : {"lowpass", "bandpass", "highpass"}
    min_hz, max_hz : float
        Cutoff range in Hz (``max_hz`` is capped at 0.45 × ``sample_rate``).
    min_q, max_q : float
        Resonance range (quality factor).
    """

    kind = "filter"
    param_names = ("cutoff", "resonance")
    defaults = (1.0, 0.0)
    option_names = ("mode", "min_hz", "max_hz", "min_q", "max_q")

    def __init__(self, *, sample_rate: int, mode: str = "lowpass", min_hz: float = 40.0, max_hz: float = 16000.0,
                 min_q: float = 0.5, max_q: float = 10.0):
        super().__init__(sample_rate=sample_rate, mode=mode, min_hz=min_hz, max_hz=max_hz, min_q=min_q, max_q=max_q)
        if mode not in FILTER_MODES:
            from rlimpro.workspace import did_you_mean

            raise ParameterError(f"filter mode '{mode}' is unknown{did_you_mean(str(mode), list(FILTER_MODES))} "
                                 f"(choose {', '.join(FILTER_MODES)})")
        self.mode = mode
        self.min_hz = check_option(min_hz, name="min_hz", kind=mode, lo=1.0, hi=0.45 * self.sample_rate)
        self.max_hz = min(check_option(max_hz, name="max_hz", kind=mode, lo=1.0, hi=192000.0), 0.45 * self.sample_rate)
        if not self.min_hz < self.max_hz:
            raise ParameterError(f"effect '{mode}': min_hz {self.min_hz} must be below max_hz {self.max_hz}")
        self.min_q = check_option(min_q, name="min_q", kind=mode, lo=0.1, hi=100.0)
        self.max_q = check_option(max_q, name="max_q", kind=mode, lo=0.1, hi=100.0)
        if not self.min_q <= self.max_q:
            raise ParameterError(f"effect '{mode}': min_q {self.min_q} must not exceed max_q {self.max_q}")
        self.reset()

    def reset(self) -> None:
        self._x = np.zeros(2)  # last two inputs, newest first
        self._y = np.zeros(2)  # last two outputs, newest first

    def coefficients(self, cutoff: np.ndarray, resonance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised biquad coefficients for parameter values in [0, 1].

        Parameters
        ----------
        cutoff, resonance : ndarray, shape (k,)

        Returns
        -------
        b, a : ndarray, shape (k, 3)
            ``a[:, 0] == 1``.
        """
        f0 = exp_map(cutoff, self.min_hz, self.max_hz)
        q = exp_map(resonance, self.min_q, self.max_q)
        w0 = 2.0 * np.pi * f0 / self.sample_rate
        cw, alpha = np.cos(w0), np.sin(w0) / (2.0 * q)
        if self.mode == "lowpass":
            b = np.stack([(1 - cw) / 2, 1 - cw, (1 - cw) / 2], axis=1)
        elif self.mode == "highpass":
            b = np.stack([(1 + cw) / 2, -(1 + cw), (1 + cw) / 2], axis=1)
        else:
            b = np.stack([alpha, np.zeros_like(alpha), -alpha], axis=1)
        a = np.stack([1 + alpha, -2 * cw, 1 - alpha], axis=1)
        return b / a[:, :1], a / a[:, :1]

    def process(self, x: np.ndarray, params: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        starts = np.arange(0, n, CONTROL_BLOCK)
        values = params[starts]
        # merge control blocks whose parameters do not change (the held part of a block)
        keep = np.ones(len(starts), dtype=bool)
        keep[1:] = np.any(values[1:] != values[:-1], axis=1)
        starts, values = starts[keep], values[keep]
        bounds = np.append(starts, n)
        b_all, a_all = self.coefficients(values[:, 0], values[:, 1])
        y = np.empty(n)
        x1, x2 = self._x
        y1, y2 = self._y
        for k in range(len(starts)):
            b, a = b_all[k], a_all[k]
            seg = x[bounds[k] : bounds[k + 1]]
            zi = np.array([b[1] * x1 - a[1] * y1 + b[2] * x2 - a[2] * y2, b[2] * x1 - a[2] * y1])
            out, _ = scipy.signal.lfilter(b, a, seg, zi=zi)
            y[bounds[k] : bounds[k + 1]] = out
            if seg.size >= 2:
                x1, x2, y1, y2 = seg[-1], seg[-2], out[-1], out[-2]
            else:
                x1, x2, y1, y2 = seg[-1], x1, out[-1], y1
        self._x[:] = (x1, x2)
        self._y[:] = (y1, y2)
        return y

    def describe(self) -> dict[str, Any]:
        return {"type": self.mode, "min_hz": self.min_hz, "max_hz": self.max_hz, "min_q": self.min_q, "max_q": self.max_q}

    def physical(self, params: np.ndarray) -> dict[str, float]:
        return {"cutoff_hz": float(exp_map(params[0], self.min_hz, self.max_hz)),
                "q": float(exp_map(params[1], self.min_q, self.max_q))}


class Gain(Effect):
    """Gain in dB, ramped sample by sample.

    Parameters
    ----------
    min_db, max_db : float
        Level range, dB.
    """

    kind = "gain"
    param_names = ("level",)
    defaults = (60.0 / 72.0,)  # 0 dB with the default range
    option_names = ("min_db", "max_db")

    def __init__(self, *, sample_rate: int, min_db: float = -60.0, max_db: float = 12.0):
        super().__init__(sample_rate=sample_rate, min_db=min_db, max_db=max_db)
        self.min_db = check_option(min_db, name="min_db", kind="gain", lo=-200.0, hi=60.0)
        self.max_db = check_option(max_db, name="max_db", kind="gain", lo=-200.0, hi=60.0)
        if not self.min_db < self.max_db:
            raise ParameterError(f"effect 'gain': min_db {self.min_db} must be below max_db {self.max_db}")

    def process(self, x: np.ndarray, params: np.ndarray) -> np.ndarray:
        return x * 10.0 ** (lin_map(params[:, 0], self.min_db, self.max_db) / 20.0)

    def physical(self, params: np.ndarray) -> dict[str, float]:
        return {"gain_db": float(lin_map(params[0], self.min_db, self.max_db))}


class Distortion(Effect):
    """Waveshaper ``tanh(k x) / tanh(k)`` with drive ``k`` in dB, ramped sample by sample.

    Parameters
    ----------
    max_drive_db : float
        Drive at parameter 1, dB (drive 0 dB at parameter 0).
    """

    kind = "distortion"
    param_names = ("drive",)
    defaults = (0.0,)
    option_names = ("max_drive_db",)

    def __init__(self, *, sample_rate: int, max_drive_db: float = 30.0):
        super().__init__(sample_rate=sample_rate, max_drive_db=max_drive_db)
        self.max_drive_db = check_option(max_drive_db, name="max_drive_db", kind="distortion", lo=0.1, hi=60.0)

    def process(self, x: np.ndarray, params: np.ndarray) -> np.ndarray:
        k = 10.0 ** (lin_map(params[:, 0], 0.0, self.max_drive_db) / 20.0)
        return np.tanh(k * x) / np.tanh(k)

    def physical(self, params: np.ndarray) -> dict[str, float]:
        return {"drive_db": float(lin_map(params[0], 0.0, self.max_drive_db))}


class Delay(Effect):
    """Feedback delay ``y = x + mix * echo``, ``echo[n] = line[n - d]``, ``line[n] = x[n] + feedback * echo[n]``.

    The delay time ramps sample by sample (a read position with linear interpolation, so time changes
    bend the pitch of the echoes as a tape delay does). The block is processed in chunks shorter
    than the delay, so every read refers to samples already written.

    Parameters
    ----------
    min_s, max_s : float
        Delay time range, s (exponential).
    max_feedback : float
        Feedback at parameter 1, < 1.
    """

    kind = "delay"
    param_names = ("time", "feedback", "mix")
    defaults = (0.5, 0.0, 0.0)
    option_names = ("min_s", "max_s", "max_feedback")

    def __init__(self, *, sample_rate: int, min_s: float = 0.02, max_s: float = 0.5, max_feedback: float = 0.85):
        super().__init__(sample_rate=sample_rate, min_s=min_s, max_s=max_s, max_feedback=max_feedback)
        self.min_s = check_option(min_s, name="min_s", kind="delay", lo=4.0 / self.sample_rate, hi=10.0)
        self.max_s = check_option(max_s, name="max_s", kind="delay", lo=4.0 / self.sample_rate, hi=10.0)
        if not self.min_s < self.max_s:
            raise ParameterError(f"effect 'delay': min_s {self.min_s} must be below max_s {self.max_s}")
        self.max_feedback = check_option(max_feedback, name="max_feedback", kind="delay", lo=0.0, hi=0.99)
        self._size = int(math.ceil(self.max_s * self.sample_rate)) + 4
        self.reset()

    def reset(self) -> None:
        self._line = np.zeros(self._size)
        self._pos = 0  # samples written so far

    def process(self, x: np.ndarray, params: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        d = exp_map(params[:, 0], self.min_s, self.max_s) * self.sample_rate  # delay, samples (>= 4)
        fb = params[:, 1] * self.max_feedback
        mix = params[:, 2]
        y = np.empty(n)
        size = self._size
        j = 0
        while j < n:
            # a chunk shorter than the shortest delay in it reads only samples written before it
            c = min(n - j, max(1, int(np.floor(d[j:].min())) - 1))
            idx = np.arange(j, j + c)
            read = (self._pos + idx - j) - d[idx]
            i0 = np.floor(read).astype(np.int64)
            frac = read - i0
            echo = (1.0 - frac) * self._line[i0 % size] + frac * self._line[(i0 + 1) % size]
            self._line[(self._pos + np.arange(c)) % size] = x[idx] + fb[idx] * echo
            y[idx] = x[idx] + mix[idx] * echo
            self._pos += c
            j += c
        return y

    def physical(self, params: np.ndarray) -> dict[str, float]:
        return {"time_s": float(exp_map(params[0], self.min_s, self.max_s)),
                "feedback": float(params[1] * self.max_feedback), "mix": float(params[2])}
