"""Native synth engines (numpy): sine, fm, granular.

Each engine renders a batch of parameter vectors at once (offline: lookup tables) and offers a
:class:`Voice` that renders block by block with continuous phase and parameters ramped linearly across
each block (live). Parameters are floats in [0, 1]; the physical mapping comes from the synth's
:class:`~rlimpro.synths.spec.SynthSpec`. Output is mono float32, full scale = 1. Every engine is
deterministic (granular jitter comes from a fixed seed).

The formulas match the shipped ``synth.pd`` patches (Pd's ``osc~`` is a cosine):

- sine: ``amp * cos(2 pi f t)``
- fm: ``0.5 * cos(2 pi fc t + I sin(2 pi (h fc) t))`` — carrier ``fc``, harmonicity ``h``, index ``I``
- granular: Hann-windowed grains read from a fixed generated source, see :func:`grain_source`
"""

from __future__ import annotations

import abc
import functools

import numpy as np

from rlimpro.errors import SynthError
from rlimpro.synths.engine import Engine, check_params, n_samples
from rlimpro.synths.spec import SynthSpec

GRANULAR_SEED = 7
FM_AMPLITUDE = 0.5
GRAIN_SOURCE_SECONDS = 2.0
DEFAULT_DENSITY = 30.0  # grains/s when the synth has no density parameter


_check_params = check_params


class NativeEngine(Engine):
    """The registered ``native`` engine: ``NativeEngine(spec)`` builds the numpy engine named by
    ``spec.native`` (sine, fm, granular). ``render`` a batch offline, ``voice`` for block-wise live
    rendering, and the base class's ``render_trajectory`` (the voice run hop by hop)."""

    name = "native"
    source_key = "native"
    kind = ""  # the numpy engine's own name
    min_params = 1
    max_params = 1

    def __new__(cls, spec: SynthSpec):
        if cls is NativeEngine:
            from rlimpro.workspace import did_you_mean

            sub = NATIVE_ENGINES.get(spec.native or "")
            if sub is None:
                raise SynthError(
                    f"synth '{spec.name}': unknown native engine '{spec.native}'"
                    f"{did_you_mean(spec.native or '', list(NATIVE_ENGINES))} (known: {', '.join(NATIVE_ENGINES)})"
                )
            return super().__new__(sub)
        return super().__new__(cls)

    def __init__(self, spec: SynthSpec):
        if not (self.min_params <= spec.n_params <= self.max_params):
            raise SynthError(
                f"native engine '{self.kind}' takes {self.min_params}..{self.max_params} parameters, "
                f"synth '{spec.name}' lists {spec.n_params}"
            )
        super().__init__(spec)

    def describe(self) -> dict:
        return {"engine": f"native:{self.kind}"}

    def physical(self, params: np.ndarray) -> list[np.ndarray]:  # type: ignore[override]
        """Physical values per parameter: list of N arrays of shape (B,)."""
        return [ps.to_physical(params[:, i]) for i, ps in enumerate(self.spec.params)]

    def render(self, params: np.ndarray, *, duration: float, sample_rate: int) -> np.ndarray:
        """Render constant-parameter sounds.

        Parameters
        ----------
        params : ndarray, shape (B, N) or (N,)
            Parameter vectors in [0, 1].
        duration : float
            Seconds per sound.
        sample_rate : int
            Hz.

        Returns
        -------
        ndarray, shape (B, round(duration * sample_rate)), float32
        """
        p = check_params(params, self.n_params, self.spec.name)
        return self._render(p, n_samples(duration, sample_rate), sample_rate).astype(np.float32)

    @abc.abstractmethod
    def _render(self, p: np.ndarray, n: int, sr: int) -> np.ndarray:
        """(B, N) clipped parameters -> (B, n) float64 audio."""

    @abc.abstractmethod
    def _block(self, state: dict, p0: np.ndarray, p1: np.ndarray, n: int, sr: int) -> np.ndarray:
        """``n`` samples ramping from ``p0`` to ``p1`` (shape (N,)), continuing from ``state``."""

    def voice(self, *, sample_rate: int) -> Voice:  # type: ignore[override]
        """A stateful block renderer for live use."""
        return Voice(self, sample_rate=sample_rate)


class SineEngine(NativeEngine):
    """Sine oscillator: frequency, amplitude."""

    kind = "sine"
    min_params = max_params = 2

    def _render(self, p, n, sr):
        f, amp = self.physical(p)
        t = np.arange(n) / sr
        return amp[:, None] * np.cos(2 * np.pi * f[:, None] * t[None, :])

    def _block(self, state, p0, p1, n, sr):
        f0, a0 = (ps.to_physical(v) for ps, v in zip(self.spec.params, p0, strict=False))
        f1, a1 = (ps.to_physical(v) for ps, v in zip(self.spec.params, p1, strict=False))
        ramp = (np.arange(1, n + 1) / n)
        f = f0 + (f1 - f0) * ramp
        a = a0 + (a1 - a0) * ramp
        phase = state.get("phase", 0.0) + np.cumsum(f) / sr
        state["phase"] = float(phase[-1] % 1.0)
        return a * np.cos(2 * np.pi * (phase - f / sr))


class FMEngine(NativeEngine):
    """Two-operator FM: carrier frequency, harmonicity (modulator / carrier), modulation index."""

    kind = "fm"
    min_params = max_params = 3

    def _render(self, p, n, sr):
        fc, h, index = self.physical(p)
        t = np.arange(n) / sr
        fm = fc * h
        out = np.empty((p.shape[0], n))
        for i in range(p.shape[0]):  # row by row bounds memory for large batches
            out[i] = FM_AMPLITUDE * np.cos(2 * np.pi * fc[i] * t + index[i] * np.sin(2 * np.pi * fm[i] * t))
        return out

    def _block(self, state, p0, p1, n, sr):
        v0 = [ps.to_physical(v) for ps, v in zip(self.spec.params, p0, strict=False)]
        v1 = [ps.to_physical(v) for ps, v in zip(self.spec.params, p1, strict=False)]
        ramp = np.arange(1, n + 1) / n
        fc, h, index = (a + (b - a) * ramp for a, b in zip(v0, v1, strict=False))
        pc = state.get("pc", 0.0) + np.cumsum(fc) / sr - fc / sr
        pm = state.get("pm", 0.0) + np.cumsum(fc * h) / sr - fc * h / sr
        state["pc"] = float((pc[-1] + fc[-1] / sr) % 1.0)
        state["pm"] = float((pm[-1] + fc[-1] * h[-1] / sr) % 1.0)
        return FM_AMPLITUDE * np.cos(2 * np.pi * pc + index * np.sin(2 * np.pi * pm))


@functools.lru_cache(maxsize=4)
def grain_source(sample_rate: int) -> np.ndarray:
    """The granular synth's source sound, shape (2 * sample_rate,), float64, deterministic.

    Two seconds whose timbre changes with position: a harmonic tone gliding from 110 to 880 Hz that
    grows brighter, with breath noise rising in the second half, so that grain position matters.
    """
    n = int(GRAIN_SOURCE_SECONDS * sample_rate)
    t = np.arange(n) / sample_rate
    u = t / GRAIN_SOURCE_SECONDS
    f0 = 110.0 * 8.0**u
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    out = np.zeros(n)
    for k in range(1, 13):
        rolloff = np.exp(-(k - 1) / (1.0 + 5.0 * u))
        out += np.where(k * f0 < sample_rate / 2, rolloff * np.sin(k * phase) / k**0.5, 0.0)
    noise = np.random.default_rng(1234).standard_normal(n)
    noise = np.convolve(noise, np.ones(4) / 4, mode="same")
    out = out / np.max(np.abs(out)) * (1.0 - 0.6 * u**2) + 0.5 * u**2 * noise
    return out / np.max(np.abs(out))


class GranularEngine(NativeEngine):
    """Granular synth over :func:`grain_source`: position, duration, pitch [, density [, jitter]].

    Grains start every ``1 / density`` s (jittered by a fixed seed), read the source from
    ``position`` (fraction of the usable source) transposed by ``pitch`` semitones, Hann-windowed,
    overlap-added and scaled by ``1 / sqrt(max(1, density * duration))``.
    """

    kind = "granular"
    min_params = 3
    max_params = 5

    def _grain_values(self, p):
        vals = self.physical(p)
        b = p.shape[0]
        pos, dur, pitch = vals[0], vals[1], vals[2]
        density = vals[3] if len(vals) > 3 else np.full(b, DEFAULT_DENSITY)
        jitter = vals[4] if len(vals) > 4 else np.full(b, 0.2)
        return pos, dur, pitch, density, jitter

    def _grain(self, src, sr, pos, dur, pitch, offset):
        """One grain: (L,) samples."""
        length = max(int(round(dur * sr)), 4)
        ratio = 2.0 ** (pitch / 12.0)
        span = length * ratio
        start = pos * max(len(src) - span - 2, 0) + offset
        start = min(max(start, 0.0), len(src) - span - 2)
        idx = start + np.arange(length) * ratio
        i0 = idx.astype(np.int64)
        frac = idx - i0
        g = src[i0] * (1 - frac) + src[i0 + 1] * frac
        return g * np.hanning(length + 2)[1:-1]

    def _render(self, p, n, sr):
        src = grain_source(sr)
        pos, dur, pitch, density, jitter = self._grain_values(p)
        out = np.zeros((p.shape[0], n))
        for b in range(p.shape[0]):
            rng = np.random.default_rng(GRANULAR_SEED)
            period = 1.0 / density[b]
            t = 0.0
            gain = 1.0 / np.sqrt(max(1.0, density[b] * dur[b]))
            while t < n / sr:
                onset_jit, pos_jit = rng.uniform(-0.5, 0.5, size=2)
                onset = int(round((t + onset_jit * jitter[b] * period) * sr)) if t > 0 else 0
                g = self._grain(src, sr, pos[b], dur[b], pitch[b], pos_jit * jitter[b] * 0.05 * sr)
                end = min(onset + len(g), n)
                if 0 <= onset < n:
                    out[b, onset:end] += gain * g[: end - onset]
                t += period
        return out

    def _block(self, state, p0, p1, n, sr):
        src = grain_source(sr)
        rng = state.setdefault("rng", np.random.default_rng(GRANULAR_SEED))
        tail = state.get("tail", np.zeros(0))
        out = np.zeros(max(n, tail.size))
        out[: tail.size] += tail
        next_onset = state.get("next_onset", 0.0)  # samples from block start
        while next_onset < n:
            frac = next_onset / n
            pv = np.asarray(p0) + (np.asarray(p1) - np.asarray(p0)) * frac
            pos, dur, pitch, density, jitter = (v[0] for v in self._grain_values(pv[None, :]))
            _, pos_jit = rng.uniform(-0.5, 0.5, size=2)
            g = self._grain(src, sr, pos, dur, pitch, pos_jit * jitter * 0.05 * sr)
            gain = 1.0 / np.sqrt(max(1.0, density * dur))
            start = int(next_onset)
            if start + g.size > out.size:
                out = np.concatenate([out, np.zeros(start + g.size - out.size)])
            out[start : start + g.size] += gain * g
            next_onset += sr / density
        state["next_onset"] = next_onset - n
        state["tail"] = out[n:].copy()
        return out[:n]


class Voice:
    """Block renderer with state: continuous phase, parameters ramped from the last block's values.

    Parameters
    ----------
    engine : NativeEngine
    sample_rate : int
        Hz.
    """

    def __init__(self, engine: NativeEngine, *, sample_rate: int):
        self.engine = engine
        self.sample_rate = sample_rate
        self.params = np.array([ps.default for ps in engine.spec.params], dtype=np.float64)
        self._state: dict = {}

    def render_block(self, params: np.ndarray, n: int) -> np.ndarray:
        """Render ``n`` samples, ramping linearly from the previous parameters to ``params`` (shape (N,))."""
        target = check_params(params, self.engine.n_params, self.engine.spec.name)[0]
        out = self.engine._block(self._state, self.params, target, n, self.sample_rate)
        self.params = target
        return np.asarray(out, dtype=np.float32)

    def close(self) -> None:
        """Nothing to release (the :class:`~rlimpro.synths.engine.Voice` contract)."""


NATIVE_ENGINES: dict[str, type[NativeEngine]] = {
    "sine": SineEngine,
    "fm": FMEngine,
    "granular": GranularEngine,
}


def make_engine(spec: SynthSpec) -> NativeEngine:
    """The native engine named by ``spec.native`` (whatever ``spec.engine`` says).

    Raises
    ------
    SynthError
        Unknown engine name (with a close match).
    """
    return NativeEngine(spec)
