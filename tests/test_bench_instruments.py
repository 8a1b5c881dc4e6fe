"""The real-instrument test recordings (bench/instruments.py): fluidsynth plays melodies written in code.

The melodies are known, so the analyzer's pitch is checked against the notes that were written.
"""

import numpy as np
import pytest
import soundfile as sf

from bench import instruments as inst
from rlimpro.descriptors import Analyzer
from rlimpro.descriptors.registry import descriptor_index
from tests.conftest import require_program


def test_split_holds_out_whole_instruments():
    names = inst.file_names()
    held = inst.held_out_files()
    assert len(names) == len(inst.INSTRUMENTS) * inst.FILES_PER_INSTRUMENT
    assert {h.rsplit("-", 1)[0] for h in held} == set(inst.HELD_OUT)
    trained = {n.rsplit("-", 1)[0] for n in names if n not in held}
    assert trained.isdisjoint(inst.HELD_OUT) and len(trained) >= 5


def test_melodies_are_monophonic_and_in_register():
    for name, instrument in inst.INSTRUMENTS.items():
        notes = inst.melody(instrument, seed=3)
        assert len(notes) >= 8, name
        ends = [on + dur for on, dur, _, _ in notes]
        assert all(notes[i + 1][0] >= ends[i] for i in range(len(notes) - 1))  # one note at a time
        assert all(instrument.low <= n <= instrument.high and 1 <= v <= 127 for _, _, n, v in notes)
        assert ends[-1] <= inst.FILE_SECONDS


def test_rendered_violin_plays_the_written_notes(tmp_path):
    require_program("fluidsynth", "fluidsynth fluid-soundfont-gm")
    if not inst.SOUNDFONT.is_file():
        pytest.skip(f"{inst.SOUNDFONT} missing: apt-get install fluid-soundfont-gm (make test installs it as root)")
    violin = inst.INSTRUMENTS["violin"]
    notes = inst.melody(violin, seed=11)
    audio = inst.render(inst.midi_file(violin, notes, seed=11), seconds=inst.FILE_SECONDS, seed=11)
    assert audio.shape == (int(inst.FILE_SECONDS * inst.SAMPLE_RATE),)
    assert -6.5 <= 20 * np.log10(np.abs(audio).max()) <= -0.5
    frames = Analyzer().analyze(audio)
    midi = frames[:, descriptor_index("pitch-midi")]
    t = np.arange(len(frames)) * 512 / inst.SAMPLE_RATE
    errors = []
    for on, dur, note, _ in notes:
        inside = (t >= on + 0.08) & (t + 1024 / inst.SAMPLE_RATE <= on + dur)  # whole windows inside the note
        heard = midi[inside & (midi > 0)]
        errors.extend(np.abs(heard - note))
    assert np.median(errors) < 0.3  # semitones
    assert np.mean(np.asarray(errors) > 1.0) < 0.1


def test_make_corpus_writes_every_file_once(tmp_path, monkeypatch):
    require_program("fluidsynth", "fluidsynth fluid-soundfont-gm")
    if not inst.SOUNDFONT.is_file():
        pytest.skip(f"{inst.SOUNDFONT} missing: apt-get install fluid-soundfont-gm (make test installs it as root)")
    monkeypatch.setattr(inst, "INSTRUMENTS", {"flute": inst.INSTRUMENTS["flute"]})
    monkeypatch.setattr(inst, "FILES_PER_INSTRUMENT", 2)
    paths = inst.make_corpus(tmp_path)
    assert [p.name for p in paths] == ["flute-1.wav", "flute-2.wav"]
    audio, sr = sf.read(paths[0])
    assert sr == 44100 and audio.ndim == 1
    stamp = paths[0].stat().st_mtime_ns
    inst.make_corpus(tmp_path)  # kept: rendering is deterministic
    assert paths[0].stat().st_mtime_ns == stamp
    again = inst.render(inst.midi_file(inst.INSTRUMENTS["flute"], inst.melody(inst.INSTRUMENTS["flute"], seed=1000), seed=1000),
                        seconds=inst.FILE_SECONDS, seed=1000)
    np.testing.assert_allclose(audio, np.round(again * 32767) / 32767, atol=2 / 32767)
