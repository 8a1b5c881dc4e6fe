"""Real-instrument test recordings: melodies written in code, played by sampled instruments.

The quality benchmark judges agents on recordings of real instruments they never heard. Those
recordings are made here, deterministically and without downloads: melodies are written in code as
Standard MIDI Files (``mido``) and rendered by Debian's ``fluidsynth`` through the FluidR3 General MIDI
SoundFont (Debian ``fluid-soundfont-gm``), which holds multi-sampled recordings of real instruments.

Each instrument plays :data:`FILES_PER_INSTRUMENT` files of about :data:`FILE_SECONDS` s: phrases of a
random walk on a scale inside the instrument's usual register, with a dynamic arc per phrase
(velocities, and expression swells on sustained instruments), separated by rests. Rendering is dry
(no reverb, no chorus); each file is scaled to a seeded peak level between -6 and -1 dBFS, and a
noise floor at about -80 dBFS stands in for the room, so rests are quiet but not digital silence.

The split holds out whole instruments: :data:`HELD_OUT` (flute, violin, clarinet, nylon guitar) are
never trained on; the others are the training set. File names are ``<instrument>-<k>.wav`` so a
config's ``held_out_files`` can name them (:func:`held_out_files`).

    python -m bench.instruments DIR          # writes DIR/corpora/instruments/audio/*.wav

Requires the ``fluidsynth`` program and the SoundFont (``apt-get install fluidsynth
fluid-soundfont-gm``; ``make bench`` installs them as root).
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SAMPLE_RATE = 44100
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
CORPUS = "instruments"
FILES_PER_INSTRUMENT = 3
FILE_SECONDS = 8.0
NOISE_FLOOR_DB = -80.0
RENDER_TIMEOUT_S = 120.0


@dataclasses.dataclass(frozen=True)
class Instrument:
    """A General MIDI instrument and the register its melodies use.

    Attributes
    ----------
    program : int
        General MIDI program number, 0-based (0 = acoustic grand piano).
    low, high : int
        Lowest and highest MIDI note of its melodies.
    sustained : bool
        Wind or bowed (held notes, expression swells), else plucked or struck (decaying notes).
    """

    program: int
    low: int
    high: int
    sustained: bool


#: Instruments by name, in the order files are generated.
INSTRUMENTS: dict[str, Instrument] = {
    "piano": Instrument(0, 48, 84, False),
    "harp": Instrument(46, 48, 84, False),
    "cello": Instrument(42, 43, 67, True),
    "trumpet": Instrument(56, 58, 79, True),
    "altosax": Instrument(65, 53, 77, True),
    "oboe": Instrument(68, 62, 84, True),
    # held out: never trained on
    "flute": Instrument(73, 67, 91, True),
    "violin": Instrument(40, 57, 86, True),
    "clarinet": Instrument(71, 52, 79, True),
    "guitar": Instrument(24, 45, 72, False),
}
HELD_OUT = ("flute", "violin", "clarinet", "guitar")

_SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "blues": (0, 3, 5, 6, 7, 10),
}


def file_names() -> list[str]:
    """Every file stem, in generation order: ``<instrument>-<k>`` for k in 1..FILES_PER_INSTRUMENT."""
    return [f"{name}-{k}" for name in INSTRUMENTS for k in range(1, FILES_PER_INSTRUMENT + 1)]


def held_out_files() -> list[str]:
    """The stems of the held-out instruments' files (never trained on)."""
    return [s for s in file_names() if s.rsplit("-", 1)[0] in HELD_OUT]


def check_available() -> str | None:
    """None when fluidsynth and the SoundFont are installed, else the reason (with the install line)."""
    if shutil.which("fluidsynth") is None:
        return "fluidsynth not found: apt-get install fluidsynth fluid-soundfont-gm"
    if not SOUNDFONT.is_file():
        return f"{SOUNDFONT} not found: apt-get install fluid-soundfont-gm"
    return None


def _scale_notes(tonic: int, scale: tuple[int, ...], low: int, high: int) -> list[int]:
    return [n for n in range(low, high + 1) if (n - tonic) % 12 in scale]


def melody(instrument: Instrument, *, seed: int, seconds: float = FILE_SECONDS) -> list[tuple[float, float, int, int]]:
    """Notes of one file: ``(onset s, duration s, MIDI note, velocity)``, monophonic, in time order.

    Phrases of 4-9 notes walk the scale by steps of 1-2 degrees with an occasional leap; each phrase
    has a dynamic arc; rests of 0.3-1.0 s separate phrases. Plucked and struck instruments play
    shorter notes.
    """
    rng = np.random.default_rng(seed)
    tonic = int(rng.integers(0, 12))
    scale = _SCALES[list(_SCALES)[int(rng.integers(len(_SCALES)))]]
    pool = _scale_notes(tonic, scale, instrument.low, instrument.high)
    beat = 60.0 / float(rng.uniform(72, 132))
    lengths = (0.5, 1.0, 1.0, 1.5, 2.0) if instrument.sustained else (0.5, 0.5, 1.0, 1.0, 1.5)
    notes: list[tuple[float, float, int, int]] = []
    t = float(rng.uniform(0.1, 0.4))
    i = int(rng.integers(len(pool) // 4, 3 * len(pool) // 4))
    while t < seconds - 1.0:
        n_notes = int(rng.integers(4, 10))
        base_vel = float(rng.uniform(55, 105))
        for k in range(n_notes):
            dur = beat * float(rng.choice(lengths))
            if t + dur > seconds - 0.4:
                break
            arc = np.sin(np.pi * (k + 0.5) / n_notes)  # louder in the middle of the phrase
            vel = int(np.clip(base_vel * (0.75 + 0.35 * arc) + rng.normal(0, 5), 25, 127))
            notes.append((t, dur * 0.92, pool[i], vel))
            t += dur
            step = int(rng.choice((-2, -1, -1, 1, 1, 2, -4, 4)))
            i = int(np.clip(i + step, 0, len(pool) - 1))
        t += float(rng.uniform(0.3, 1.0))
    return notes


def midi_file(instrument: Instrument, notes: list[tuple[float, float, int, int]], *, seed: int):
    """A one-track ``mido.MidiFile`` playing ``notes`` on channel 0 with the instrument's program.

    Sustained instruments also get expression (CC 11) swells inside each note, 20 steps per note.
    """
    import mido

    rng = np.random.default_rng(seed + 1)
    tpb = 480
    tempo = 500_000  # microseconds per beat: 1 beat = 0.5 s, so 960 ticks per second
    ticks_per_s = tpb * 1e6 / tempo
    events: list[tuple[int, int, mido.Message]] = [
        (0, 0, mido.Message("program_change", program=instrument.program, channel=0)),
        (0, 1, mido.Message("control_change", control=11, value=110, channel=0)),
    ]
    for onset, dur, note, vel in notes:
        on, off = int(round(onset * ticks_per_s)), int(round((onset + dur) * ticks_per_s))
        if instrument.sustained:  # a swell or a fade inside the note
            shape = rng.choice(("swell", "fade", "arc"))
            for s in range(20):
                u = s / 19
                env = {"swell": 0.6 + 0.4 * u, "fade": 1.0 - 0.4 * u, "arc": 0.6 + 0.4 * np.sin(np.pi * u)}[shape]
                tick = on + int((off - on) * s / 20)
                events.append((tick, 1, mido.Message("control_change", control=11, value=int(127 * env), channel=0)))
        events.append((on, 2, mido.Message("note_on", note=note, velocity=vel, channel=0)))
        events.append((off, 0, mido.Message("note_off", note=note, velocity=0, channel=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0)])
    last = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=int(ticks_per_s)))
    mid = mido.MidiFile(ticks_per_beat=tpb)
    mid.tracks.append(track)
    return mid


def render(mid, *, seconds: float, seed: int) -> np.ndarray:
    """Render a MIDI file with fluidsynth (dry) to mono float64 at 44.1 kHz, ``seconds`` long,
    scaled to a seeded peak between -6 and -1 dBFS, plus the noise floor.

    Raises
    ------
    RuntimeError
        fluidsynth failed (its stderr is in the message) or rendered silence.
    """
    import soundfile as sf

    with tempfile.TemporaryDirectory(prefix="rlimpro-fluid-") as tmp:
        mid_path, wav_path = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        mid.save(str(mid_path))
        cmd = ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.4", "-r", str(SAMPLE_RATE),
               "-O", "float", "-T", "wav", "-F", str(wav_path), str(SOUNDFONT), str(mid_path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RENDER_TIMEOUT_S)
        if proc.returncode != 0 or not wav_path.is_file():
            raise RuntimeError(f"fluidsynth failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
        audio, sr = sf.read(str(wav_path), dtype="float64", always_2d=True)
    if sr != SAMPLE_RATE:
        raise RuntimeError(f"fluidsynth wrote {sr} Hz, expected {SAMPLE_RATE}")
    mono = audio.mean(axis=1)
    n = int(round(seconds * SAMPLE_RATE))
    mono = np.pad(mono[:n], (0, max(0, n - len(mono))))
    peak = np.max(np.abs(mono))
    if not peak > 0:
        raise RuntimeError("fluidsynth rendered silence")
    rng = np.random.default_rng(seed + 2)
    mono *= 10 ** (rng.uniform(-6.0, -1.0) / 20) / peak
    return mono + 10 ** (NOISE_FLOOR_DB / 20) * rng.standard_normal(n)  # RMS of the noise: NOISE_FLOOR_DB


def make_corpus(workspace: Path, *, corpus: str = CORPUS, force: bool = False) -> list[Path]:
    """Write every file of the instrument corpus to ``workspace/corpora/<corpus>/audio/``.

    Files already there are kept unless ``force`` (the rendering is deterministic). Writes are atomic.

    Returns
    -------
    list of Path
        The WAV files (16-bit, mono, 44.1 kHz), in :func:`file_names` order.

    Raises
    ------
    RuntimeError
        fluidsynth or the SoundFont is missing (:func:`check_available`), or a rendering failed.
    """
    import soundfile as sf

    from rlimpro.tables import atomic_write

    reason = check_available()
    if reason:
        raise RuntimeError(reason)
    out = Path(workspace) / "corpora" / corpus / "audio"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, stem in enumerate(file_names()):
        path = out / f"{stem}.wav"
        paths.append(path)
        if path.is_file() and not force:
            continue
        instrument = INSTRUMENTS[stem.rsplit("-", 1)[0]]
        seed = 1000 + 17 * index
        notes = melody(instrument, seed=seed)
        audio = render(midi_file(instrument, notes, seed=seed), seconds=FILE_SECONDS, seed=seed)
        atomic_write(path, lambda tmp, a=audio: sf.write(str(tmp), a, SAMPLE_RATE, subtype="PCM_16", format="WAV"))
    return paths


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.instruments WORKSPACE_DIR", file=sys.stderr)
        return 2
    try:
        paths = make_corpus(Path(argv[0]))
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(paths)} files in {paths[0].parent} (held out: {', '.join(HELD_OUT)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
