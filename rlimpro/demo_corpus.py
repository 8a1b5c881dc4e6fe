"""The demo corpus: about a minute of musician-like phrases, synthesized in code (no downloads).

Eight mono 44.1 kHz 16-bit WAV files, 60 s in total, alternating two instruments so that holding out
the last quarter (files 07 and 08) keeps one of each:

- plucked string: Karplus-Strong (Jaffe & Smith 1983) with a fractional-delay loop filter (exact pitch),
  pluck-position comb and velocity-dependent brightness of the excitation, a light body resonance;
- breathy wind: additive harmonics whose spectral slope follows the dynamics (louder = brighter),
  legato glides, delayed vibrato (5-6 Hz) with a little tremolo, tongued articulation, and band-passed
  breath noise that rises at each attack.

Melodies are random walks on a scale (each file its own key, mode, tempo and register, fundamentals
between about 100 and 1000 Hz), grouped in phrases with a dynamic arc, separated by rests. A noise floor
at about -80 dBFS stands in for the room. Everything is seeded: the same numpy gives the same bytes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import scipy.signal

from rlimpro.tables import atomic_write
from rlimpro.workspace import corpus_dir

SAMPLE_RATE = 44100
DEMO_CORPUS = "demo"

# Scales as semitone offsets from the tonic.
_SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "minor-pentatonic": (0, 3, 5, 7, 10),
    "harmonic-minor": (0, 2, 3, 5, 7, 8, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "major-pentatonic": (0, 2, 4, 7, 9),
}


@dataclasses.dataclass(frozen=True)
class DemoFile:
    """One file of the demo corpus: instrument, musical material and level."""

    name: str
    instrument: str  # "pluck" or "wind"
    seconds: float
    tonic: int  # MIDI note of the scale's tonic
    scale: str
    low: int  # lowest and highest MIDI note of the melody
    high: int
    bpm: float
    peak_db: float  # peak level of the file, dBFS
    seed: int
    bright: float = 0.5  # 0..1: timbre (pluck: excitation brightness; wind: harmonic richness)
    odd_only: bool = False  # wind: clarinet-like weak even harmonics


#: The files of the demo corpus, in order; 8 files, 60 s.
DEMO_FILES: tuple[DemoFile, ...] = (
    DemoFile("01-pluck-dorian", "pluck", 8.0, 50, "dorian", 45, 69, 96, -1.0, 101, bright=0.55),
    DemoFile("02-wind-major", "wind", 7.5, 67, "major", 67, 86, 84, -2.0, 102, bright=0.45),
    DemoFile("03-pluck-pentatonic", "pluck", 7.0, 45, "minor-pentatonic", 43, 64, 120, -3.0, 103, bright=0.8),
    DemoFile("04-wind-low", "wind", 8.0, 55, "harmonic-minor", 50, 74, 72, -1.5, 104, bright=0.7, odd_only=True),
    DemoFile("05-pluck-major", "pluck", 7.5, 55, "major", 52, 79, 108, -2.5, 105, bright=0.35),
    DemoFile("06-wind-mixolydian", "wind", 7.0, 62, "mixolydian", 62, 83, 100, -4.0, 106, bright=0.55),
    DemoFile("07-pluck-minor", "pluck", 7.5, 52, "harmonic-minor", 47, 72, 88, -2.0, 107, bright=0.6),
    DemoFile("08-wind-pentatonic", "wind", 7.5, 60, "major-pentatonic", 60, 84, 92, -1.0, 108, bright=0.5),
)


def midi_hz(note: float) -> float:
    """Frequency of MIDI note ``note``, Hz (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


@dataclasses.dataclass(frozen=True)
class Note:
    """A note of a score: onset and duration in s, MIDI pitch, velocity in (0, 1], slur to the next."""

    start: float
    dur: float
    pitch: int
    vel: float
    slur: bool


def compose(spec: DemoFile, rng: np.random.Generator) -> list[Note]:
    """A monophonic score: phrases of 3-8 notes, a random walk on the scale, rests between phrases.

    Parameters
    ----------
    spec : DemoFile
    rng : numpy Generator

    Returns
    -------
    list of Note, in time order, all ending before ``spec.seconds - 0.4`` s.
    """
    steps = _SCALES[spec.scale]
    pool = [
        spec.tonic + 12 * octave + s
        for octave in range(-3, 4)
        for s in steps
        if spec.low <= spec.tonic + 12 * octave + s <= spec.high
    ]
    pool.sort()
    beat = 60.0 / spec.bpm
    # note values in beats (repeats weight the common ones); plucked lines move faster
    if spec.instrument == "pluck":
        rhythms = np.array([0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 1.5, 2.0])
    else:
        rhythms = np.array([0.5, 1.0, 1.0, 1.0, 1.5, 2.0, 2.0, 3.0])
    notes: list[Note] = []
    t = rng.uniform(0.1, 0.4)
    idx = int(rng.integers(len(pool) // 3, 2 * len(pool) // 3 + 1))
    end_limit = spec.seconds - 0.4
    while end_limit - t > 0.6:
        room = end_limit - t
        n = int(rng.integers(3, 9))
        durs = rng.choice(rhythms, size=n) * beat
        durs[-1] = max(durs[-1], 1.5 * beat)  # phrases end on a longer note
        fit = int(np.searchsorted(np.cumsum(durs), room, side="right"))
        if fit < n:  # the phrase is cut short by the end of the file: at least two notes fill the room
            if fit < 2:
                n, durs = 2, np.array([0.4, 0.6]) * room
            else:
                n, durs = fit, durs[:fit]
                durs[-1] += min(beat, room - durs.sum())
        arc = np.sin(np.linspace(0.15, np.pi - 0.3, n)) if rng.random() < 0.7 else np.linspace(1.0, 0.2, n)
        base = rng.uniform(0.25, 1.0)  # phrase dynamic: from piano to forte
        for k in range(n):
            step = int(rng.choice([-2, -1, -1, 1, 1, 2, 0, 3, -3, 4, -4]))
            idx = int(np.clip(idx + step, 0, len(pool) - 1))
            vel = float(np.clip(base * (0.5 + 0.5 * arc[k]) * rng.uniform(0.75, 1.2), 0.06, 1.0))
            slur = bool(k < n - 1 and rng.random() < 0.55)
            notes.append(Note(start=float(t), dur=float(durs[k]), pitch=pool[idx], vel=vel, slur=slur))
            t += float(durs[k])
        t += rng.uniform(0.25, 0.8)  # rest
    return notes


# ---------------------------------------------------------------- plucked string
def karplus_strong(*, freq: float, seconds: float, excitation: np.ndarray, t60: float, sr: int) -> np.ndarray:
    """Karplus-Strong string: ``y[n] = x[n] + g * (h0 y[n-N] + h1 y[n-N-1] + h2 y[n-N-2])``.

    The loop filter is the two-point average convolved with a linear-interpolation fractional delay, so
    the loop delay is exactly ``sr / freq`` samples at low frequencies. Computed in blocks of ``N``
    samples (every tap reaches at least one block back), vectorised within a block.

    Parameters
    ----------
    freq : float
        Fundamental, Hz.
    seconds : float
        Output length, s.
    excitation : ndarray, shape (m,)
        Initial displacement (added to the first ``m`` samples).
    t60 : float
        Decay to -60 dB of the fundamental, s.
    sr : int
        Sample rate, Hz.

    Returns
    -------
    ndarray, shape (round(seconds * sr),)
    """
    n = int(round(seconds * sr))
    delay = sr / freq - 0.5  # the two-point average adds half a sample
    n0 = int(np.floor(delay))  # taps at n0, n0 + 1, n0 + 2
    f = delay - n0  # fractional delay in [0, 1), linear interpolation
    g = 10.0 ** (-3.0 / (t60 * freq))
    # [0.5, 0.5] (delay 0.5) convolved with [1 - f, f] (delay f): DC delay n0 + 0.5 + f = sr / freq
    h = g * np.array([0.5 * (1.0 - f), 0.5, 0.5 * f])
    pad = n0 + 2
    y = np.zeros(pad + n)
    x = np.zeros(n)
    m = min(len(excitation), n)
    x[:m] = excitation[:m]
    for start in range(0, n, n0):
        stop = min(start + n0, n)
        a, b = pad + start, pad + stop
        y[a:b] = x[start:stop] + h[0] * y[a - n0 : b - n0] + h[1] * y[a - n0 - 1 : b - n0 - 1] + h[2] * y[a - n0 - 2 : b - n0 - 2]
    return y[pad:]


def render_pluck(spec: DemoFile, notes: list[Note], rng: np.random.Generator, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Plucked-string performance of ``notes``, shape (round(spec.seconds * sr),)."""
    n_total = int(round(spec.seconds * sr))
    out = np.zeros(n_total)
    for k, note in enumerate(notes):
        f0 = midi_hz(note.pitch)
        period = int(round(sr / f0))
        # excitation: one period of noise, low-passed (softer = darker), comb for the pluck position
        burst = rng.uniform(-1.0, 1.0, period)
        cutoff = 0.15 + 0.8 * spec.bright * note.vel  # one-pole coefficient: 1 = no smoothing
        burst = scipy.signal.lfilter([cutoff], [1.0, cutoff - 1.0], burst)
        pos = max(1, int(period * rng.uniform(0.12, 0.3)))
        burst = burst - np.concatenate([np.zeros(pos), burst[:-pos]])
        burst *= note.vel / max(np.abs(burst).max(), 1e-9)
        nxt = notes[k + 1].start if k + 1 < len(notes) else spec.seconds
        # the string rings until the next pluck (damped by the finger), or its natural decay
        ring = min(note.dur + (0.6 if not note.slur else 0.05), nxt - note.start + 0.04, spec.seconds - note.start)
        t60 = float(np.clip(2.8 - 0.004 * (f0 - 100.0), 0.8, 3.0))
        tone = karplus_strong(freq=f0, seconds=ring, excitation=burst, t60=t60, sr=sr)
        fade = min(int(0.03 * sr), len(tone))
        tone[len(tone) - fade :] *= np.linspace(1.0, 0.0, fade)
        i0 = int(round(note.start * sr))
        seg = tone[: n_total - i0]
        out[i0 : i0 + len(seg)] += seg
    # body: a few resonances mixed with the direct sound
    body = np.zeros_like(out)
    for fc, q, gain in ((110.0, 4.0, 0.5), (240.0, 5.0, 0.35), (2800.0, 2.0, 0.15)):
        b, a = scipy.signal.iirpeak(fc, q, fs=sr)
        body += gain * scipy.signal.lfilter(b, a, out)
    return 0.8 * out + body


# ---------------------------------------------------------------- breathy wind
def _smooth_steps(values: np.ndarray, starts: np.ndarray, n: int, glide: int) -> np.ndarray:
    """A piecewise-constant curve (value ``values[k]`` from sample ``starts[k]``) with linear glides."""
    curve = np.empty(n)
    for k, (v, s) in enumerate(zip(values, starts, strict=True)):
        e = starts[k + 1] if k + 1 < len(starts) else n
        curve[s:e] = v
    curve[: starts[0]] = values[0]
    return _moving_average(curve, glide)


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """Causal moving average over ``width`` samples (edge-padded at the start), same length."""
    if width <= 1:
        return x
    return np.convolve(np.pad(x, (width - 1, 0), mode="edge"), np.ones(width) / width, mode="valid")


def render_wind(spec: DemoFile, notes: list[Note], rng: np.random.Generator, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Breathy wind performance of ``notes``, shape (round(spec.seconds * sr),)."""
    n_total = int(round(spec.seconds * sr))
    t = np.arange(n_total) / sr
    # group slurred notes into breaths (one continuous tone each)
    groups: list[list[Note]] = [[]]
    for note in notes:
        groups[-1].append(note)
        if not note.slur:
            groups.append([])
    out = np.zeros(n_total)
    breath_b, breath_a = scipy.signal.butter(2, [900.0, 7000.0], btype="bandpass", fs=sr)
    for group in groups:
        if not group:
            continue
        start = group[0].start
        end = min(group[-1].start + group[-1].dur * 0.92, spec.seconds - 0.05)
        i0, i1 = int(start * sr), int(end * sr)
        n = i1 - i0
        if n < int(0.05 * sr):
            continue
        tt = t[i0:i1] - start
        starts = np.array([int((nt.start - start) * sr) for nt in group])
        starts = np.clip(starts, 0, n - 1)
        freq = _smooth_steps(np.array([midi_hz(nt.pitch) for nt in group]), starts, n, int(0.045 * sr))
        level = _smooth_steps(np.array([nt.vel for nt in group]), starts, n, int(0.08 * sr))
        # delayed vibrato: starts after ~0.25 s in each note, 5-6 Hz, ~12 cents; slight tremolo
        since = np.empty(n)
        shape = np.ones(n)  # dynamics inside long notes: swell, crescendo or diminuendo
        for k, s in enumerate(starts):
            e = starts[k + 1] if k + 1 < len(starts) else n
            since[s:e] = np.arange(e - s) / sr
            if e - s > int(0.5 * sr):
                x = np.linspace(0.0, 1.0, e - s)
                kind = int(rng.integers(0, 4))
                shape[s:e] = (0.65 + 0.5 * np.sin(np.pi * x), 0.55 + 0.6 * x, 1.15 - 0.6 * x, np.ones_like(x))[kind]
        shape = _moving_average(shape, int(0.05 * sr))
        vib_depth = np.clip((since - 0.22) / 0.35, 0.0, 1.0) * rng.uniform(0.005, 0.009)
        vib_rate = rng.uniform(5.0, 6.0) + 0.3 * np.sin(2 * np.pi * 0.4 * tt)
        vib = np.sin(2 * np.pi * np.cumsum(vib_rate) / sr)
        freq = freq * (1.0 + vib_depth * vib)
        # envelope: breath attack and release, note dynamics, tremolo following the vibrato (up to ~4 %)
        env = np.minimum(1.0, tt / 0.07) * np.minimum(1.0, (tt[-1] - tt) / 0.12 + 1e-9)
        level = level * shape
        env *= level * (1.0 + 5.0 * vib_depth * vib)
        phase = 2 * np.pi * np.cumsum(freq) / sr
        tone = np.zeros(n)
        slope = 2.6 - 1.5 * spec.bright * level  # amplitude ~ h ** -slope: louder = brighter
        log_decay = np.exp(-slope)  # h ** -slope = exp(-slope * ln h); ln h grows, so use powers below
        f_max = 9000.0
        rot = np.exp(1j * (phase + 0.3))  # harmonic h is Im(rot ** h): one complex multiply per harmonic
        partial = np.ones(n, dtype=complex)
        for h in range(1, 40):
            partial *= rot
            if h * freq.min() > f_max:
                break
            amp = log_decay ** np.log(h)
            if spec.odd_only and h % 2 == 0:
                amp = amp * 0.12
            amp = amp * np.clip((f_max - h * freq) / 1000.0, 0.0, 1.0)  # fade out below f_max
            tone += amp * partial.imag
        # breath: band-passed noise following the envelope, stronger at the attacks
        noise = scipy.signal.lfilter(breath_b, breath_a, rng.standard_normal(n))
        attack = np.zeros(n)
        for s in starts:
            m = min(int(0.09 * sr), n - s)
            attack[s : s + m] = np.linspace(1.0, 0.0, m)
        breath = noise * (0.05 + 0.18 * attack) * (0.3 + level)
        seg = env * (tone + breath * np.sqrt(np.mean(tone**2)) * 2.0)
        out[i0:i1] += seg
    return out


# ---------------------------------------------------------------- corpus
def render_demo_file(spec: DemoFile, *, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Render one demo file, shape (round(spec.seconds * sr),), float64, peak at ``spec.peak_db`` dBFS."""
    rng = np.random.default_rng(spec.seed)
    notes = compose(spec, rng)
    if spec.instrument == "pluck":
        audio = render_pluck(spec, notes, rng, sr)
    else:
        audio = render_wind(spec, notes, rng, sr)
    audio *= 10.0 ** (spec.peak_db / 20.0) / max(np.abs(audio).max(), 1e-12)
    # room noise floor about -80 dBFS RMS (gently low-passed)
    floor = scipy.signal.lfilter([0.3], [1.0, -0.7], rng.standard_normal(audio.size))
    audio += floor * (1e-4 / np.sqrt(np.mean(floor**2)))
    fade = int(0.01 * sr)
    audio[:fade] *= np.linspace(0.0, 1.0, fade)
    audio[-fade:] *= np.linspace(1.0, 0.0, fade)
    return audio


def demo_audio_dir(*, workspace: Path) -> Path:
    """``<workspace>/corpora/demo/audio``."""
    return corpus_dir(DEMO_CORPUS, workspace=workspace) / "audio"


def make_demo_corpus(*, workspace: Path, force: bool = False) -> Path:
    """Write the demo corpus's WAV files to ``<workspace>/corpora/demo/audio/``.

    Parameters
    ----------
    workspace : Path
        Workspace root.
    force : bool
        Rewrite every file; otherwise only missing files are written.

    Returns
    -------
    Path
        The audio folder.

    Raises
    ------
    ParameterError
        The folder cannot be written.
    """
    import soundfile as sf

    folder = demo_audio_dir(workspace=workspace)
    for spec in DEMO_FILES:
        path = folder / f"{spec.name}.wav"
        if path.is_file() and not force:
            continue
        audio = render_demo_file(spec)
        atomic_write(path, lambda tmp, a=audio: sf.write(tmp, a, SAMPLE_RATE, subtype="PCM_16", format="WAV"))
    return folder
