"""Targets of the sound tasks: synth-made sounds and phrases with hidden parameters, audio files, pools."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from numpy.testing import assert_allclose

from rlimpro.errors import AudioError, NotFoundError, ParameterError
from rlimpro.tasks.targets import TargetPool, file_target, resolve_file, synth_phrase, synth_sound
from tests.task_support import CHOICE_SPECS, SECONDS, SR, parts


def test_synth_sound_is_the_synth_at_hidden_controls():
    _, layout, renderer, _ = parts(CHOICE_SPECS)
    t = synth_sound(renderer, layout, rng=np.random.default_rng(0), duration=SECONDS, sample_rate=SR, name="x")
    assert t.audio.shape == (int(SECONDS * SR),) and t.audio.dtype == np.float32
    assert_allclose(t.params, layout.to_engine(t.controls))
    assert_allclose(renderer.render(t.params[None], duration=SECONDS, sample_rate=SR)[0], t.audio)
    again = synth_sound(renderer, layout, rng=np.random.default_rng(0), duration=SECONDS, sample_rate=SR, name="x")
    assert_allclose(again.audio, t.audio)  # seeded


def test_synth_phrase_concatenates_its_segments():
    _, layout, renderer, _ = parts()
    t = synth_phrase(renderer, layout, rng=np.random.default_rng(1), total_steps=3, step_seconds=SECONDS, sample_rate=SR, name="p")
    n = int(SECONDS * SR)
    assert t.audio.shape == (3 * n,) and t.params.shape == (3, 3)
    for k in range(3):
        assert_allclose(t.audio[k * n : (k + 1) * n], renderer.render(t.params[k][None], duration=SECONDS, sample_rate=SR)[0])
    drift = np.abs(np.diff(t.controls, axis=0))
    assert (drift < 0.6).all()  # a continuous control drifts (Gaussian steps of 0.1), it does not jump


def _wav(path, seconds, sr=44100, channels=1):
    t = np.arange(int(seconds * sr)) / sr
    x = 0.5 * np.sin(2 * np.pi * 330 * t)
    sf.write(path, np.stack([x] * channels, axis=1) if channels > 1 else x, sr)
    return path


def test_file_target_reads_a_stretch_resampled_to_mono(tmp_path):
    path = _wav(tmp_path / "a.wav", 1.0, sr=44100, channels=2)
    t = file_target(path, start=0.25, seconds=0.5, sample_rate=SR, name="a")
    assert t.audio.shape == (int(0.5 * SR),) and t.params is None and t.source == str(path)
    assert_allclose(np.sqrt(np.mean(t.audio**2)), 0.5 / np.sqrt(2), rtol=0.01)


def test_file_target_shorter_than_needed_or_than_one_step_is_refused(tmp_path):
    path = _wav(tmp_path / "short.wav", 0.3)
    with pytest.raises(ParameterError, match="shorter than one step \\(step_seconds 0.5 s\\)"):
        file_target(path, start=0.0, seconds=4.0, sample_rate=SR, name="s", step_seconds=0.5)
    with pytest.raises(ParameterError, match="holds 0.100 s from start 0.2 s, shorter than one step"):
        file_target(path, start=0.2, seconds=4.0, sample_rate=SR, name="s", step_seconds=0.25)
    with pytest.raises(ParameterError, match="needs 4 s; it has room for total_steps <= 3"):
        file_target(path, start=0.0, seconds=4.0, sample_rate=SR, name="s", step_seconds=0.1)
    with pytest.raises(ParameterError, match="needs 0.5 s"):
        file_target(path, start=0.0, seconds=0.5, sample_rate=SR, name="s")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    with pytest.raises(AudioError, match="bad.wav"):
        file_target(bad, start=0.0, seconds=0.1, sample_rate=SR, name="b")


def test_resolve_file_by_corpus_or_path_and_makes_the_demo_corpus(tmp_path):
    (tmp_path / "corpora" / "mine" / "audio").mkdir(parents=True)
    _wav(tmp_path / "corpora" / "mine" / "audio" / "take-1.wav", 0.5)
    assert resolve_file(file="take-1", corpus="mine", workspace=tmp_path).name == "take-1.wav"
    assert resolve_file(file="corpora/mine/audio/take-1.wav", corpus=None, workspace=tmp_path).is_file()
    with pytest.raises(NotFoundError, match="did you mean 'take-1'"):
        resolve_file(file="take1", corpus="mine", workspace=tmp_path)
    with pytest.raises(NotFoundError, match="does not exist"):
        resolve_file(file="nope.wav", corpus=None, workspace=tmp_path)
    demo = resolve_file(file="02-wind-major", corpus="demo", workspace=tmp_path)  # synthesized on first use
    assert demo.is_file() and len(list(demo.parent.glob("*.wav"))) == 8


def test_target_pool_cycles_fixed_targets_or_mixes_random_ones():
    _, layout, renderer, _ = parts()
    fixed = [synth_sound(renderer, layout, rng=np.random.default_rng(i), duration=SECONDS, sample_rate=SR, name=f"f{i}") for i in range(2)]
    pool = TargetPool(fixed=fixed)
    rng = np.random.default_rng(0)
    assert pool.cycles and [pool.draw(rng).name for _ in range(3)] == ["f0", "f1", "f0"]
    assert pool.pick("f1") is fixed[1] and pool.pick(0) is fixed[0]
    with pytest.raises(ParameterError, match="holds 2 fixed targets"):
        pool.pick(5)

    def make(r, i):
        return synth_sound(renderer, layout, rng=r, duration=SECONDS, sample_rate=SR, name="new")

    mixed = TargetPool(fixed=fixed, make_random=make, random_fraction=0.5)
    names = [mixed.draw(rng).name for _ in range(200)]
    assert 60 < names.count("new") < 140 and not mixed.cycles
    with pytest.raises(ParameterError, match="no targets"):
        TargetPool()
