"""Source/target pairs: generated in code (deterministic) or read from two corpora.

A :class:`Pair` is the duo of the cross-adaptive task: the ``source`` (musician A, the signal the
effects process) and the ``target`` (musician B, the one to follow), mono, at the analysis rate and of
equal length: a source longer than its target is cut to the target's length; a shorter source is an
error (there would be nothing to process at the end of the target).

Generated material (``material: {kind: generated}`` in a config), every signal a function of
``(kind, seed, duration, sample_rate)`` only:

======== ====================================================================================
sources  ``noise`` white noise; ``pink`` pink (1/f) noise; ``drone`` a sawtooth chord (root,
         fifth, octave) — each at -18 dBFS RMS
targets  ``beat`` a drum pattern (kick: pitch-swept sine; snare: band-passed noise and a tone;
         hi-hat: high-passed noise) at a random tempo, 90-140 BPM; ``swell`` noise whose level
         and brightness drift slowly, with pauses; ``melody`` plucked notes whose brightness
         decays with each note, with rests — each over a -80 dBFS noise floor (a microphone's)
======== ====================================================================================

Pair ``k`` of ``pairs`` takes combination ``k % (S * T)`` of the ``S`` source kinds and ``T`` target
kinds (source-major: ``sources[(k // T) % S]`` with ``targets[k % T]``), and seed ``1000 * seed + k``;
it is named ``"{k:02d}-{source}-{target}"``.
The last ``held_out`` pairs are held out for evaluation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.signal

from rlimpro.errors import AudioError, MismatchError, NotFoundError, ParameterError

SOURCE_KINDS = ("noise", "pink", "drone")
TARGET_KINDS = ("beat", "swell", "melody")
SOURCE_RMS_DB = -18.0
NOISE_FLOOR_DB = -80.0


@dataclasses.dataclass(frozen=True)
class Pair:
    """One source/target pair at the analysis rate.

    Attributes
    ----------
    name : str
    source, target : ndarray, shape (n,), float64
        Mono, full scale = 1, equal lengths.
    sample_rate : int
        Hz.
    origin : dict
        Where it came from (generator kinds and seed, or corpus files), for run metadata.
    """

    name: str
    source: np.ndarray
    target: np.ndarray
    sample_rate: int
    origin: dict = dataclasses.field(default_factory=dict)

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.target.size / self.sample_rate


def _resample(x: np.ndarray, rate: int, sample_rate: int) -> np.ndarray:
    import soxr

    if rate == sample_rate:
        return x
    y = soxr.resample(x.astype(np.float64), rate, sample_rate, quality="HQ")
    if y.size == 0:
        raise AudioError(f"too short to resample from {rate} Hz to {sample_rate} Hz")
    return y


def make_pair(
    *, name: str, source: np.ndarray, target: np.ndarray, source_rate: int, target_rate: int, sample_rate: int,
    source_name: str = "source", target_name: str = "target", origin: dict | None = None,
) -> Pair:
    """Check a source and a target and bring them to one rate and one length.

    Parameters
    ----------
    name : str
        Pair name.
    source, target : ndarray, shape (n,)
        Mono signals, full scale = 1.
    source_rate, target_rate : int
        Their sample rates, Hz; each is resampled (soxr, HQ) to ``sample_rate`` when it differs.
    sample_rate : int
        The analysis rate, Hz.
    source_name, target_name : str
        How to name them in messages (file paths).

    Returns
    -------
    Pair
        The source cut to the target's length.

    Raises
    ------
    AudioError
        Not mono, empty, or not finite.
    MismatchError
        The source is shorter than the target (both durations named).
    """
    sigs = []
    for what, x, rate in ((source_name, source, source_rate), (target_name, target, target_rate)):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1 or x.size == 0:
            raise AudioError(f"{what}: expected a non-empty mono signal, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise AudioError(f"{what}: holds NaN or infinite samples")
        if not (isinstance(rate, int | np.integer) and rate > 0):
            raise ParameterError(f"{what}: sample rate {rate!r} must be a positive whole number of Hz")
        sigs.append(_resample(x, int(rate), sample_rate))
    src, tgt = sigs
    if src.size < tgt.size:
        raise MismatchError(
            f"source {source_name} ({src.size / sample_rate:.3f} s) is shorter than target {target_name} "
            f"({tgt.size / sample_rate:.3f} s); the source must last at least as long as the target it follows "
            "(trim the target or give a longer source)"
        )
    return Pair(name=name, source=src[: tgt.size].copy(), target=tgt.copy(), sample_rate=int(sample_rate),
                origin=dict(origin or {}))


def read_pair(*, source: Path, target: Path, sample_rate: int, name: str | None = None) -> Pair:
    """A pair from two audio files (any rates and channel counts: mixed to mono and resampled).

    Raises
    ------
    NotFoundError
        A file does not exist.
    AudioError
        A file cannot be decoded (names it).
    MismatchError
        The source is shorter than the target.
    """
    from rlimpro.audiofile import read_audio

    sigs = []
    for what, path in (("source", Path(source)), ("target", Path(target))):
        if not path.is_file():
            raise NotFoundError(f"{what} {path}: no such audio file")
        try:
            x, _info = read_audio(path, sample_rate=sample_rate)
        except AudioError as exc:
            raise AudioError(f"{what} {path}: {exc}") from exc
        sigs.append(x)
    return make_pair(
        name=name or f"{Path(source).stem}+{Path(target).stem}", source=sigs[0], target=sigs[1],
        source_rate=sample_rate, target_rate=sample_rate, sample_rate=sample_rate,
        source_name=str(source), target_name=str(target),
        origin={"source": str(source), "target": str(target)},
    )


# ---------------------------------------------------------------------- generators
def _rms_to(x: np.ndarray, db: float) -> np.ndarray:
    rms = np.sqrt(np.mean(x * x))
    return x * (10.0 ** (db / 20.0) / max(rms, 1e-12))


def source_noise(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """White noise at -18 dBFS RMS."""
    return _rms_to(rng.standard_normal(n), SOURCE_RMS_DB)


def source_pink(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Pink noise (power ∝ 1/f above 20 Hz, shaped in the frequency domain) at -18 dBFS RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    spec /= np.sqrt(np.maximum(f, 20.0))
    return _rms_to(np.fft.irfft(spec, n), SOURCE_RMS_DB)


def source_drone(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A sawtooth chord (root 55-110 Hz, fifth, octave; slowly detuned voices) at -18 dBFS RMS."""
    t = np.arange(n) / sr
    root = rng.uniform(55.0, 110.0)
    x = np.zeros(n)
    for ratio in (1.0, 1.5, 2.0):
        for detune in (-0.004, 0.004):
            f = root * ratio * (1.0 + detune + 0.002 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t))
            phase = np.cumsum(f) / sr + rng.uniform()
            x += 2.0 * (phase % 1.0) - 1.0
    sos = scipy.signal.butter(4, min(12000.0, 0.45 * sr), btype="low", fs=sr, output="sos")
    return _rms_to(scipy.signal.sosfilt(sos, x), SOURCE_RMS_DB)


def _burst(kind: str, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One drum hit (kick, snare or hat), peak about 1."""
    if kind == "kick":
        t = np.arange(int(0.35 * sr)) / sr
        f = 48.0 + 110.0 * np.exp(-t / 0.03)
        return np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / 0.12)
    if kind == "snare":
        t = np.arange(int(0.25 * sr)) / sr
        sos = scipy.signal.butter(2, [1200.0, min(5000.0, 0.45 * sr)], btype="band", fs=sr, output="sos")
        noise = scipy.signal.sosfilt(sos, rng.standard_normal(t.size))
        noise /= max(np.abs(noise).max(), 1e-9)
        return (0.8 * noise * np.exp(-t / 0.07) + 0.4 * np.sin(2 * np.pi * 190.0 * t) * np.exp(-t / 0.04))
    t = np.arange(int(0.08 * sr)) / sr
    sos = scipy.signal.butter(4, min(7000.0, 0.4 * sr), btype="high", fs=sr, output="sos")
    noise = scipy.signal.sosfilt(sos, rng.standard_normal(t.size))
    return noise / max(np.abs(noise).max(), 1e-9) * np.exp(-t / 0.02)


def target_beat(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A drum pattern on a 16th-note grid at 90-140 BPM."""
    step = 60.0 / rng.uniform(90.0, 140.0) / 4.0
    x = np.zeros(n + int(0.4 * sr))
    density = rng.uniform(0.3, 0.7)
    for k in range(int(n / sr / step) + 1):
        start = int(round(k * step * sr))
        hits = []
        if (k % 4 == 0 and rng.uniform() < 0.85) or rng.uniform() < 0.08:
            hits.append(("kick", rng.uniform(0.4, 0.8)))
        if (k % 8 == 4 and rng.uniform() < 0.9) or rng.uniform() < 0.06:
            hits.append(("snare", rng.uniform(0.25, 0.6)))
        if rng.uniform() < density:
            hits.append(("hat", rng.uniform(0.05, 0.25)))
        for kind, level in hits:
            b = _burst(kind, sr, rng) * level
            x[start : start + b.size] += b
    return x[:n]


def _smooth_curve(n: int, sr: int, rng: np.random.Generator, *, every: tuple[float, float]) -> np.ndarray:
    """Values in [0, 1] through random anchors every ``every`` s, joined by half-cosine segments."""
    anchors_t, t = [0.0], 0.0
    while t < n / sr:
        t += rng.uniform(*every)
        anchors_t.append(t)
    values = rng.uniform(size=len(anchors_t))
    times = np.arange(n) / sr
    seg = np.clip(np.searchsorted(anchors_t, times, side="right") - 1, 0, len(anchors_t) - 2)
    t0, t1 = np.asarray(anchors_t)[seg], np.asarray(anchors_t)[seg + 1]
    w = 0.5 - 0.5 * np.cos(np.pi * (times - t0) / (t1 - t0))
    return values[seg] * (1 - w) + values[seg + 1] * w


def target_swell(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Noise through a slowly drifting low-pass (150 Hz - 12 kHz) at a drifting level (-45..-12 dBFS), with pauses."""
    from rlimpro.effects.chain import EffectChain

    hop = 256
    n_blocks = -(-n // hop)
    level = _smooth_curve(n_blocks * hop, sr, rng, every=(0.3, 1.0))[::hop]
    bright = _smooth_curve(n_blocks * hop, sr, rng, every=(0.3, 1.2))[::hop]
    pause = _smooth_curve(n_blocks * hop, sr, rng, every=(0.4, 1.2))[::hop] < 0.25
    spec = [{"type": "lowpass", "min_hz": 150.0, "max_hz": min(12000.0, 0.45 * sr)},
            {"type": "gain", "min_db": -90.0, "max_db": -6.0}]
    chain = EffectChain.from_spec(spec, sample_rate=sr, ramp=hop)
    gain_p = np.where(pause, 0.0, ((-45.0 + 33.0 * level) + 90.0) / 84.0)
    params = np.stack([bright, np.full(n_blocks, 0.2), gain_p], axis=1)
    chain.reset(params[0])
    noise = rng.standard_normal(n_blocks * hop) * 0.5
    return chain.render(noise, params, block=hop)[:n]


def target_melody(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Plucked notes (sawtooth partials whose upper harmonics decay fastest) from a pentatonic scale, with rests."""
    scale = np.array([0, 3, 5, 7, 10, 12, 15, 17, 19, 22])
    base = rng.uniform(110.0, 220.0)
    x = np.zeros(n + sr)
    pos = 0
    while pos < n:
        dur = rng.uniform(0.12, 0.5)
        m = int(dur * sr)
        if rng.uniform() < 0.25:  # a rest
            pos += m
            continue
        f0 = base * 2.0 ** (rng.choice(scale) / 12.0)
        t = np.arange(m) / sr
        level = rng.uniform(0.2, 0.6)
        decay = rng.uniform(2.0, 12.0)
        note = np.zeros(m)
        for k in range(1, int(min(8000.0, 0.45 * sr) / f0) + 1):
            note += np.sin(2 * np.pi * k * f0 * t) / k * np.exp(-t * decay * (1.0 + 0.6 * k))
        attack = np.minimum(1.0, t / 0.003)
        release = np.minimum(1.0, (dur - t) / 0.01)
        x[pos : pos + m] += level * note * attack * release
        pos += m
    return x[:n]


SOURCES: dict[str, Callable[[int, int, np.random.Generator], np.ndarray]] = {
    "noise": source_noise,
    "pink": source_pink,
    "drone": source_drone,
}
TARGETS: dict[str, Callable[[int, int, np.random.Generator], np.ndarray]] = {
    "beat": target_beat,
    "swell": target_swell,
    "melody": target_melody,
}


def generate(kind: str, *, seed: int, duration: float, sample_rate: int) -> np.ndarray:
    """One generated signal.

    Parameters
    ----------
    kind : str
        A source kind (noise, pink, drone) or a target kind (beat, swell, melody).
    seed : int
    duration : float
        Seconds, > 0.
    sample_rate : int
        Hz.

    Returns
    -------
    ndarray, shape (round(duration * sample_rate),), float64
        Targets include the -80 dBFS noise floor.

    Raises
    ------
    ParameterError
        Unknown kind (with the close match) or a non-positive duration.
    """
    from rlimpro.workspace import did_you_mean

    if not duration > 0:
        raise ParameterError(f"duration {duration} must be > 0 s")
    n = int(round(duration * sample_rate))
    rng = np.random.default_rng([int(seed), sum(map(ord, kind))])
    if kind in SOURCES:
        return SOURCES[kind](n, sample_rate, rng)
    if kind in TARGETS:
        x = TARGETS[kind](n, sample_rate, rng)
        return x + rng.standard_normal(n) * 10.0 ** (NOISE_FLOOR_DB / 20.0)
    kinds = list(SOURCES) + list(TARGETS)
    raise ParameterError(f"unknown material kind '{kind}'{did_you_mean(kind, kinds)} (sources: "
                         f"{', '.join(SOURCES)}; targets: {', '.join(TARGETS)})")


def generated_pairs(*, sources: list[str], targets: list[str], pairs: int, duration: float, seed: int,
                    sample_rate: int) -> list[Pair]:
    """The generated pairs of a config (see the module docstring for names and seeds)."""
    out = []
    for k in range(pairs):
        s, t = sources[(k // len(targets)) % len(sources)], targets[k % len(targets)]
        pair_seed = 1000 * int(seed) + k
        out.append(
            Pair(
                name=f"{k:02d}-{s}-{t}",
                source=generate(s, seed=pair_seed, duration=duration, sample_rate=sample_rate),
                target=generate(t, seed=pair_seed, duration=duration, sample_rate=sample_rate),
                sample_rate=sample_rate,
                origin={"source": s, "target": t, "seed": pair_seed, "generated": True},
            )
        )
    return out


def write_pair(pair: Pair, folder: Path) -> tuple[Path, Path]:
    """Write ``<name>-source.wav`` and ``<name>-target.wav`` (float) atomically; return their paths."""
    import soundfile as sf

    from rlimpro.tables import atomic_write

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for what, x in (("source", pair.source), ("target", pair.target)):
        path = folder / f"{pair.name}-{what}.wav"
        atomic_write(path, lambda tmp, x=x: sf.write(str(tmp), x.astype(np.float32), pair.sample_rate,
                                                          subtype="FLOAT", format="WAV"))
        paths.append(path)
    return paths[0], paths[1]
