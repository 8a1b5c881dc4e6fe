"""Source/target pairs: deterministic generation, naming, rates, lengths, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from numpy.testing import assert_allclose

from rlimpro.crossadaptive.material import (
    NOISE_FLOOR_DB,
    SOURCE_KINDS,
    SOURCE_RMS_DB,
    TARGET_KINDS,
    generate,
    generated_pairs,
    make_pair,
    read_pair,
    write_pair,
)
from rlimpro.errors import AudioError, MismatchError, NotFoundError, ParameterError

SR = 22050


@pytest.mark.parametrize("kind", SOURCE_KINDS + TARGET_KINDS)
def test_generation_is_deterministic_and_seeded(kind):
    a = generate(kind, seed=3, duration=0.5, sample_rate=SR)
    b = generate(kind, seed=3, duration=0.5, sample_rate=SR)
    c = generate(kind, seed=4, duration=0.5, sample_rate=SR)
    assert a.shape == (SR // 2,) and np.isfinite(a).all()
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.abs(a).max() < 1.5


def test_sources_are_at_minus_18_dbfs_and_targets_vary():
    for kind in SOURCE_KINDS:
        x = generate(kind, seed=0, duration=1.0, sample_rate=SR)
        assert 20 * np.log10(np.sqrt(np.mean(x**2))) == pytest.approx(SOURCE_RMS_DB, abs=1e-6)
    beat = generate("beat", seed=0, duration=2.0, sample_rate=SR)
    hop_rms = np.sqrt(np.mean(beat[: SR * 2 // 512 * 512].reshape(-1, 512) ** 2, axis=1))
    db = 20 * np.log10(hop_rms)
    assert db.max() > -25 and db.min() < NOISE_FLOOR_DB + 25  # hits and near-silence between them


def test_pairs_cover_every_combination_with_their_own_seeds():
    pairs = generated_pairs(sources=["noise", "pink"], targets=["beat", "swell", "melody"], pairs=7, duration=0.3, seed=1,
                            sample_rate=SR)
    assert [p.name for p in pairs] == ["00-noise-beat", "01-noise-swell", "02-noise-melody", "03-pink-beat",
                                       "04-pink-swell", "05-pink-melody", "06-noise-beat"]
    assert pairs[0].origin == {"source": "noise", "target": "beat", "seed": 1000, "generated": True}
    assert not np.array_equal(pairs[0].target, pairs[6].target)
    assert all(p.source.size == p.target.size for p in pairs)


def test_make_pair_resamples_both_to_the_analysis_rate():
    t = np.arange(22050) / 22050
    src = np.sin(2 * np.pi * 300 * t)  # 1 s at 22050 Hz
    tgt = np.sin(2 * np.pi * 300 * np.arange(44100) / 44100)[:40000]  # 0.907 s at 44100 Hz
    pair = make_pair(name="p", source=src, target=tgt, source_rate=22050, target_rate=44100, sample_rate=44100)
    assert pair.sample_rate == 44100 and pair.source.size == pair.target.size == 40000
    # the resampled source is the same 300 Hz sine, in phase with the target, away from the edges
    assert_allclose(pair.source[2000:38000], pair.target[2000:38000], atol=2e-3, rtol=0)


def test_a_source_longer_than_its_target_is_cut_and_a_shorter_one_refused():
    pair = make_pair(name="p", source=np.ones(1000), target=np.ones(800), source_rate=SR, target_rate=SR, sample_rate=SR)
    assert pair.source.size == 800
    with pytest.raises(MismatchError, match=r"source a.wav \(0.036 s\) is shorter than target b.wav \(0.045 s\)"):
        make_pair(name="p", source=np.ones(800), target=np.ones(1000), source_rate=SR, target_rate=SR, sample_rate=SR,
                  source_name="a.wav", target_name="b.wav")


def test_bad_signals_are_clear_errors():
    with pytest.raises(AudioError, match="source: expected a non-empty mono"):
        make_pair(name="p", source=np.ones((10, 2)), target=np.ones(10), source_rate=SR, target_rate=SR, sample_rate=SR)
    with pytest.raises(AudioError, match="target: holds NaN"):
        make_pair(name="p", source=np.ones(10), target=np.array([0.0, np.nan]), source_rate=SR, target_rate=SR, sample_rate=SR)
    with pytest.raises(ParameterError, match="unknown material kind 'bet'; did you mean 'beat'"):
        generate("bet", seed=0, duration=1.0, sample_rate=SR)
    with pytest.raises(ParameterError, match="duration"):
        generate("noise", seed=0, duration=0.0, sample_rate=SR)


def test_read_pair_from_files_at_different_rates(tmp_path):
    src = generate("noise", seed=0, duration=1.0, sample_rate=48000)
    tgt = generate("beat", seed=0, duration=0.8, sample_rate=16000)
    sf.write(tmp_path / "src.wav", np.stack([src, src], axis=1), 48000, subtype="FLOAT")  # stereo at 48 kHz
    sf.write(tmp_path / "tgt.flac", tgt, 16000)
    pair = read_pair(source=tmp_path / "src.wav", target=tmp_path / "tgt.flac", sample_rate=SR)
    assert pair.name == "src+tgt" and pair.source.size == pair.target.size == int(0.8 * SR)
    with pytest.raises(MismatchError, match="is shorter than target"):
        read_pair(source=tmp_path / "tgt.flac", target=tmp_path / "src.wav", sample_rate=SR)
    with pytest.raises(NotFoundError, match="target .*nope.wav: no such audio file"):
        read_pair(source=tmp_path / "src.wav", target=tmp_path / "nope.wav", sample_rate=SR)
    (tmp_path / "junk.wav").write_bytes(b"not audio")
    with pytest.raises(AudioError, match="source .*junk.wav: cannot decode"):
        read_pair(source=tmp_path / "junk.wav", target=tmp_path / "src.wav", sample_rate=SR)


def test_write_pair_round_trips(tmp_path):
    pair = generated_pairs(sources=["drone"], targets=["melody"], pairs=1, duration=0.2, seed=0, sample_rate=SR)[0]
    s, t = write_pair(pair, tmp_path)
    again = read_pair(source=s, target=t, sample_rate=SR)
    assert_allclose(again.source, pair.source, atol=1e-6, rtol=0)
    assert_allclose(again.target, pair.target, atol=1e-6, rtol=0)
