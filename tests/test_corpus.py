"""rlimpro.corpus: the analyze-corpus stage (tables, sidecar, frame counts, resampling, re-runs)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from rlimpro.cli import app
from rlimpro.corpus import (
    MANIFEST,
    SILENCE_THRESHOLD_DB,
    analyze_corpus,
    describe_signal,
    read_corpus,
    table_csv,
)
from rlimpro.descriptors import DESCRIPTORS, AnalysisSettings
from rlimpro.descriptors.analyzer import smooth_frames
from rlimpro.errors import ParameterError

runner = CliRunner()
SR = 44100
HOP = AnalysisSettings().hop
COLUMNS = ["time", "active", *DESCRIPTORS]


def performance(sr: int, *, seconds: float = 3.0, seed: int = 7) -> np.ndarray:
    """Two notes with vibrato, breath and a rest, defined analytically, so it can be sampled at any rate.

    Band-limited below 15 kHz (harmonics, random-phase partials for the breath, raised-cosine
    envelopes), so a 44.1 kHz and a 48 kHz rendering describe the same sound.
    """
    t = np.arange(int(round(seconds * sr))) / sr
    out = np.zeros_like(t)
    rng = np.random.default_rng(seed)
    for t0, t1, f0, n_harm, amp in ((0.2, 1.3, 220.0, 20, 0.3), (1.7, 2.8, 587.33, 10, 0.2)):
        attack = np.clip((t - t0) / 0.04, 0.0, 1.0)
        release = np.clip((t1 - t) / 0.06, 0.0, 1.0)
        env = (0.5 - 0.5 * np.cos(np.pi * attack)) * (0.5 - 0.5 * np.cos(np.pi * release))
        tt = t - t0
        fv, depth = 5.5, 0.006  # vibrato: f(t) = f0 (1 + depth sin(2 pi fv t)), phase integrated exactly
        phase = 2 * np.pi * f0 * tt + f0 * depth / fv * (1.0 - np.cos(2 * np.pi * fv * tt))
        tone = sum(np.sin(h * phase + 0.5 * h) / h for h in range(1, n_harm + 1))
        freqs, phases = rng.uniform(500.0, 15000.0, 150), rng.uniform(0.0, 2 * np.pi, 150)
        breath = sum(np.sin(2 * np.pi * f * tt + p) for f, p in zip(freqs, phases, strict=True)) * 0.03 / np.sqrt(75)
        out += amp * env * (tone + breath)
    return out


def side_signal(sr: int, *, seconds: float = 3.0) -> np.ndarray:
    """A 1 kHz tone that is +s in the left channel and -s in the right one (cancels in the mixdown)."""
    t = np.arange(int(round(seconds * sr))) / sr
    return 0.1 * np.sin(2 * np.pi * 1000.0 * t) * ((t > 0.5) & (t < 2.5))


def write_audio(ws: Path, corpus: str, name: str, data: np.ndarray, sr: int = SR, subtype: str = "PCM_16") -> Path:
    path = ws / "corpora" / corpus / "audio" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sr, subtype=subtype)
    return path


def tone(freq: float, seconds: float = 0.5, amp: float = 0.3, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return amp * np.sin(2 * np.pi * freq * t)


def small_corpus(ws: Path, corpus: str = "mini") -> dict[str, Path]:
    """Three short files: a, b, c."""
    return {
        stem: write_audio(ws, corpus, f"{stem}.wav", np.concatenate([tone(f), np.zeros(SR // 4)]))
        for stem, f in (("a", 220.0), ("b", 330.0), ("c", 440.0))
    }


# ---------------------------------------------------------------- the demo corpus through the CLI
@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory) -> tuple[Path, object]:
    ws = tmp_path_factory.mktemp("demo-ws")
    res = runner.invoke(app, ["--root", str(ws), "analyze-corpus", "--corpus", "demo", "--workers", "2"])
    return ws, res


def test_demo_corpus_is_created_and_analyzed(demo_ws):
    ws, res = demo_ws
    assert res.exit_code == 0, res.output
    assert "created the demo corpus" in res.output
    audio = sorted((ws / "corpora" / "demo" / "audio").glob("*.wav"))
    features = ws / "corpora" / "demo" / "features"
    assert len(audio) == 8
    assert sorted(p.stem for p in features.glob("*.csv")) == [p.stem for p in audio]
    meta = json.loads((features / MANIFEST).read_text())
    assert meta["analysis"] == AnalysisSettings().to_dict()
    assert meta["descriptors"] == list(DESCRIPTORS)
    assert meta["silence_threshold_db"] == SILENCE_THRESHOLD_DB
    assert sorted(meta["files"]) == [p.stem for p in audio]
    assert not list(features.glob(".*"))  # no temporary files left behind


def test_frame_count_matches_duration_hop_and_rate(demo_ws):
    ws, _ = demo_ws
    tables, meta = read_corpus(corpus="demo", workspace=ws)
    for stem, table in tables.items():
        info = sf.info(str(ws / "corpora" / "demo" / "audio" / f"{stem}.wav"))
        assert info.samplerate == SR and info.channels == 1
        assert len(table) == math.ceil(info.frames / HOP) == meta["files"][stem]["frames"]
        assert meta["files"][stem]["duration"] == pytest.approx(info.frames / SR, abs=1e-6)
        np.testing.assert_allclose(table["time"], np.arange(len(table)) * HOP / SR, rtol=0, atol=1e-8)
        assert list(table.columns) == COLUMNS
        assert set(table["active"].unique()) == {0, 1}  # the demo has notes and rests
        assert np.isfinite(table[list(DESCRIPTORS)].to_numpy()).all()


def test_read_corpus_returns_tables_sorted_by_stem(demo_ws):
    ws, _ = demo_ws
    tables, meta = read_corpus(corpus="demo", workspace=ws)
    assert list(tables) == sorted(tables) == sorted(meta["files"])
    entry = meta["files"]["01-pluck-dorian"]
    assert entry["source"] == "01-pluck-dorian.wav"
    assert entry["sample_rate"] == SR and entry["channels"] == 1
    assert entry["sha256"].startswith("sha256:")
    assert 0 < entry["active_frames"] < entry["frames"]
    assert entry["active_frames"] == int(tables["01-pluck-dorian"]["active"].sum())


def test_rerun_is_up_to_date_and_rewrites_nothing(demo_ws):
    ws, _ = demo_ws
    features = ws / "corpora" / "demo" / "features"
    before = {p.name: p.stat().st_mtime_ns for p in features.iterdir()}
    res = runner.invoke(app, ["--root", str(ws), "analyze-corpus", "--corpus", "demo"])
    assert res.exit_code == 0, res.output
    assert "up to date" in res.output and "created" not in res.output
    assert {p.name: p.stat().st_mtime_ns for p in features.iterdir()} == before


# ---------------------------------------------------------------- resampling and mixdown
def test_stereo_48k_gives_the_descriptors_of_its_mono_44k_version(tmp_path):
    """A stereo 48 kHz recording and its mono 44.1 kHz version (both 24-bit) describe the same sound.

    The stereo file is L = m + s, R = m - s with m the same performance sampled at 48 kHz and s a 1 kHz
    tone, so only a mean-of-channels mixdown followed by a real resampler reproduces the mono file.

    Tolerances, on frames active in both (rests hold only each file's noise floor):
    - loudness, peak, crest: 0.05 dB; MFCCs: 0.05 (of values spanning ~10-400); chroma: 1e-3;
      centroid and spread: 0.1 %; skewness, kurtosis: 1 %; rolloff: one FFT bin (43 Hz).
      soxr HQ has <= 0.01 dB passband ripple and its error sits ~120 dB down, so every band-limited
      descriptor agrees far inside these (measured: ~1e-3 for MFCCs, ~1e-5 relative elsewhere);
      the margins only absorb 24-bit quantization and float32 decoding.
    - pitch-hz: 0.1 % (~2 cents), pitch-confidence: 0.01, on frames confident (>= 0.9) in both whose
      previous frame is active too: in a note's first frame the window is mostly digital silence and
      YIN's minimum is ill-conditioned (octave choices flip on 1e-6 changes).
    - flatness is not compared: it is the log-mean over all bins including 20-22 kHz, which hold only
      each file's noise floor (quantization vs the resampler's stop-band residue), not the sound.
    """
    mono = performance(44100)
    m48, s48 = performance(48000), side_signal(48000)
    write_audio(tmp_path, "mono", "take.wav", mono, 44100, "PCM_24")
    write_audio(tmp_path, "stereo", "take.wav", np.stack([m48 + s48, m48 - s48], axis=1), 48000, "PCM_24")
    write_audio(tmp_path, "stereo", "left-only.wav", m48 + s48, 48000, "PCM_24")  # a wrong mixdown
    for corpus in ("mono", "stereo"):
        analyze_corpus(corpus=corpus, workspace=tmp_path, workers=1, show_progress=False)
    a = read_corpus(corpus="mono", workspace=tmp_path)[0]["take"]
    tables, meta = read_corpus(corpus="stereo", workspace=tmp_path)
    b = tables["take"]
    assert meta["files"]["take"]["sample_rate"] == 48000 and meta["files"]["take"]["channels"] == 2
    assert len(a) == len(b) == math.ceil(3.0 * 44100 / HOP)
    assert (a["active"] != b["active"]).sum() <= 1

    def within_tolerance(x: pd.DataFrame, y: pd.DataFrame) -> list[str]:
        act = (x["active"] == 1) & (y["active"] == 1)
        assert act.sum() > 150
        bad = []
        abs_tol = {"loudness-dBFS": 0.05, "loudness-peak": 0.05, "crest": 0.05, "rolloff": 44.0}
        abs_tol |= {f"mfcc-{i}": 0.05 for i in range(13)}
        abs_tol |= {d: 1e-3 for d in DESCRIPTORS if d.startswith("chroma-")}
        rel_tol = {"centroid": 1e-3, "spread": 1e-3, "skewness": 1e-2, "kurtosis": 1e-2}
        for d, tol in abs_tol.items():
            if (x[d] - y[d])[act].abs().max() > tol:
                bad.append(d)
        for d, tol in rel_tol.items():
            if ((x[d] - y[d]) / x[d]).abs()[act].max() > tol:
                bad.append(d)
        sustained = act & act.shift(1, fill_value=False)
        conf = sustained & (x["pitch-confidence"] >= 0.9) & (y["pitch-confidence"] >= 0.9)
        assert conf.sum() > 100
        if ((x["pitch-hz"] - y["pitch-hz"]) / x["pitch-hz"]).abs()[conf].max() > 1e-3:
            bad.append("pitch-hz")
        if (x["pitch-confidence"] - y["pitch-confidence"]).abs()[conf].max() > 0.01:
            bad.append("pitch-confidence")
        return bad

    assert within_tolerance(a, b) == []
    # the comparison is sharp enough to catch a wrong mixdown (the left channel alone)
    assert {"centroid", "chroma-C"} <= set(within_tolerance(a, tables["left-only"]))


def test_lossless_formats_give_identical_tables(tmp_path):
    signal = np.concatenate([tone(261.63, 0.6), np.zeros(3000), tone(392.0, 0.4)])
    pcm = np.round(signal * 32767).astype(np.int16)  # the same samples in every container
    for ext in ("wav", "flac", "aiff"):
        write_audio(tmp_path, "fmt", f"x-{ext}.{ext}", pcm)
    write_audio(tmp_path, "fmt", "x-ogg.ogg", signal, subtype="VORBIS")
    result = analyze_corpus(corpus="fmt", workspace=tmp_path, workers=1, show_progress=False)
    assert result.analyzed == ["x-aiff", "x-flac", "x-ogg", "x-wav"]
    tables, _ = read_corpus(corpus="fmt", workspace=tmp_path)
    pd.testing.assert_frame_equal(tables["x-flac"], tables["x-wav"])
    pd.testing.assert_frame_equal(tables["x-aiff"], tables["x-wav"])
    # Vorbis is lossy: the same frames, loudness within 0.5 dB on sounding frames
    ogg, wav = tables["x-ogg"], tables["x-wav"]
    assert len(ogg) == len(wav) == math.ceil(len(signal) / HOP)
    loud = wav["loudness-dBFS"] > -30
    assert (ogg["loudness-dBFS"] - wav["loudness-dBFS"])[loud].abs().max() < 0.5


# ---------------------------------------------------------------- re-runs
def test_changing_one_file_reanalyzes_only_that_file(tmp_path):
    paths = small_corpus(tmp_path)
    first = analyze_corpus(corpus="mini", workspace=tmp_path, workers=1, show_progress=False)
    assert first.analyzed == ["a", "b", "c"] and first.skipped == []
    features = tmp_path / "corpora" / "mini" / "features"
    stamp = {s: (features / f"{s}.csv").stat().st_mtime_ns for s in "abc"}
    old_b = (features / "b.csv").read_text()
    old_hash = json.loads((features / MANIFEST).read_text())["files"]["b"]["sha256"]

    sf.write(paths["b"], np.concatenate([tone(550.0), np.zeros(SR // 4)]), SR, subtype="PCM_16")
    second = analyze_corpus(corpus="mini", workspace=tmp_path, workers=2, show_progress=False)
    assert second.analyzed == ["b"] and second.skipped == ["a", "c"]
    assert (features / "a.csv").stat().st_mtime_ns == stamp["a"]
    assert (features / "c.csv").stat().st_mtime_ns == stamp["c"]
    assert (features / "b.csv").read_text() != old_b
    files = json.loads((features / MANIFEST).read_text())["files"]
    assert files["b"]["sha256"] != old_hash and sorted(files) == ["a", "b", "c"]
    tables, _ = read_corpus(corpus="mini", workspace=tmp_path)
    assert tables["b"]["pitch-hz"][tables["b"]["active"] == 1].median() == pytest.approx(550.0, rel=0.01)

    # same bytes with a new modification time: the content hash says unchanged
    paths["c"].write_bytes(paths["c"].read_bytes())
    third = analyze_corpus(corpus="mini", workspace=tmp_path, show_progress=False)
    assert third.analyzed == [] and third.skipped == ["a", "b", "c"]


def test_force_and_new_settings_reanalyze_everything(tmp_path):
    small_corpus(tmp_path)
    analyze_corpus(corpus="mini", workspace=tmp_path, workers=1, show_progress=False)
    forced = analyze_corpus(corpus="mini", workspace=tmp_path, workers=1, force=True, show_progress=False)
    assert forced.analyzed == ["a", "b", "c"]
    smoothed = analyze_corpus(corpus="mini", workspace=tmp_path, smooth=3, workers=1, show_progress=False)
    assert smoothed.analyzed == ["a", "b", "c"]
    assert json.loads((tmp_path / "corpora/mini/features" / MANIFEST).read_text())["analysis"]["smooth"] == 3


def test_removed_audio_file_loses_its_table(tmp_path):
    paths = small_corpus(tmp_path)
    analyze_corpus(corpus="mini", workspace=tmp_path, workers=1, show_progress=False)
    paths["c"].unlink()
    res = runner.invoke(app, ["--root", str(tmp_path), "analyze-corpus", "--corpus", "mini"])
    assert res.exit_code == 0, res.output
    assert "removed the table of c" in res.output
    tables, meta = read_corpus(corpus="mini", workspace=tmp_path)
    assert list(tables) == ["a", "b"] == sorted(meta["files"])
    assert not (tmp_path / "corpora/mini/features/c.csv").exists()


def test_leftover_temporary_file_is_cleaned_and_never_read(tmp_path):
    small_corpus(tmp_path)
    features = tmp_path / "corpora/mini/features"
    features.mkdir(parents=True)
    (features / ".a.csv.x1y2.tmp").write_text("time,act")  # a writer killed mid-write
    analyze_corpus(corpus="mini", workspace=tmp_path, workers=1, show_progress=False)
    assert not list(features.glob(".*"))
    tables, _ = read_corpus(corpus="mini", workspace=tmp_path)
    assert list(tables) == ["a", "b", "c"]


# ---------------------------------------------------------------- table contents
def test_smoothing_is_a_causal_rolling_mean_and_active_ignores_it(tmp_path):
    small_corpus(tmp_path)
    analyze_corpus(corpus="mini", workspace=tmp_path, workers=1, show_progress=False)
    raw = read_corpus(corpus="mini", workspace=tmp_path)[0]["a"]
    res = runner.invoke(app, ["--root", str(tmp_path), "analyze-corpus", "--corpus", "mini", "--smooth", "4", "-j", "1"])
    assert res.exit_code == 0, res.output
    smooth = read_corpus(corpus="mini", workspace=tmp_path)[0]["a"]
    expected = smooth_frames(raw[list(DESCRIPTORS)].to_numpy(), 4)
    np.testing.assert_allclose(smooth[list(DESCRIPTORS)].to_numpy(), expected, rtol=1e-6, atol=1e-5)
    assert (smooth["active"] == raw["active"]).all()


def test_active_marks_sound_and_rests():
    settings = AnalysisSettings()
    signal = np.concatenate([tone(440.0, 1.0, amp=0.1), np.zeros(SR), tone(440.0, 1.0, amp=1e-4)])
    table = describe_signal(signal, settings=settings)
    loud = table["loudness-dBFS"].to_numpy()
    assert (table["active"].to_numpy() == (loud > SILENCE_THRESHOLD_DB)).all()
    third = len(table) // 3
    assert table["active"][5 : third - 2].all()  # -23 dBFS tone
    assert not table["active"][third + 3 : 2 * third - 2].any()  # digital silence
    assert not table["active"][2 * third + 3 :].any()  # -83 dBFS hiss-level tone


def test_workers_do_not_change_the_tables(tmp_path):
    small_corpus(tmp_path, "one")
    small_corpus(tmp_path, "two")
    analyze_corpus(corpus="one", workspace=tmp_path, workers=1, show_progress=False)
    analyze_corpus(corpus="two", workspace=tmp_path, workers=2, show_progress=False)
    for stem in "abc":
        one = (tmp_path / "corpora/one/features" / f"{stem}.csv").read_bytes()
        assert one == (tmp_path / "corpora/two/features" / f"{stem}.csv").read_bytes()


def test_custom_settings_are_recorded_and_frame_count_follows_the_hop(tmp_path):
    paths = small_corpus(tmp_path)
    settings = AnalysisSettings(window=2048, hop=256)
    analyze_corpus(corpus="mini", workspace=tmp_path, settings=settings, workers=1, show_progress=False)
    tables, meta = read_corpus(corpus="mini", workspace=tmp_path)
    assert meta["analysis"] == settings.to_dict()
    n = sf.info(str(paths["a"])).frames
    assert len(tables["a"]) == math.ceil(n / 256)


def test_contradicting_smooth_arguments_are_refused(tmp_path):
    small_corpus(tmp_path)
    with pytest.raises(ParameterError, match="smooth"):
        analyze_corpus(corpus="mini", workspace=tmp_path, smooth=3, settings=AnalysisSettings(smooth=5))


def test_table_csv_matches_pandas_writer():
    table = describe_signal(np.concatenate([tone(300.0), np.zeros(2000)]), settings=AnalysisSettings())
    assert table_csv(table) == table.to_csv(index=False, float_format="%.9g")
