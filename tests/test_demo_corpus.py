"""rlimpro.demo_corpus: the synthesized demo corpus is deterministic, complete and musician-like."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from rlimpro.cli import app
from rlimpro.corpus import describe_signal
from rlimpro.demo_corpus import DEMO_FILES, SAMPLE_RATE, karplus_strong, make_demo_corpus
from rlimpro.descriptors import AnalysisSettings

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return make_demo_corpus(workspace=tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def described(demo) -> dict:
    """{name: (signal, table)} for every demo file."""
    settings = AnalysisSettings()
    out = {}
    for spec in DEMO_FILES:
        signal, sr = sf.read(str(demo / f"{spec.name}.wav"))
        out[spec.name] = (signal, describe_signal(signal, settings=settings))
    return out


def test_files_format_and_total_length(demo):
    files = sorted(demo.glob("*.wav"))
    assert [p.stem for p in files] == [s.name for s in DEMO_FILES]
    assert len(files) == 8  # a quarter (2 files) can be held out
    total = 0.0
    for p in files:
        info = sf.info(str(p))
        assert info.samplerate == SAMPLE_RATE == 44100 and info.channels == 1 and info.subtype == "PCM_16"
        assert 6.0 <= info.duration <= 9.0
        total += info.duration
    assert total == pytest.approx(60.0, abs=1.0)
    # the held-out quarter keeps one file of each instrument
    assert {s.instrument for s in DEMO_FILES[-2:]} == {"pluck", "wind"}


def test_generation_is_deterministic(demo, tmp_path):
    again = make_demo_corpus(workspace=tmp_path)
    for spec in DEMO_FILES:
        assert (again / f"{spec.name}.wav").read_bytes() == (demo / f"{spec.name}.wav").read_bytes()


def test_existing_files_are_kept_missing_ones_written_force_rewrites(tmp_path):
    folder = make_demo_corpus(workspace=tmp_path)
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.wav")}
    first = folder / f"{DEMO_FILES[0].name}.wav"
    content = first.read_bytes()
    first.unlink()
    make_demo_corpus(workspace=tmp_path)
    assert first.read_bytes() == content
    for p in folder.glob("*.wav"):
        if p != first:
            assert p.stat().st_mtime_ns == stamps[p.name]
    make_demo_corpus(workspace=tmp_path, force=True)
    assert all(p.stat().st_mtime_ns != stamps[p.name] for p in folder.glob("*.wav") if p != first)
    assert not list(folder.glob(".*"))  # atomic writes leave no temporary files


def test_material_is_musician_like(described):
    for spec in DEMO_FILES:
        signal, table = described[spec.name]
        active = table["active"] == 1
        assert 0.05 <= 1 - active.mean() <= 0.45, f"{spec.name}: rests"
        assert np.abs(signal).max() < 0.95, f"{spec.name}: no clipping"
        loud = table["loudness-dBFS"][active]
        assert loud.quantile(0.95) - loud.quantile(0.05) > 10, f"{spec.name}: dynamics"
        conf = active & (table["pitch-confidence"] > 0.9)
        assert conf.mean() > 0.5, f"{spec.name}: mostly pitched"
        pitch = table["pitch-hz"][conf]
        assert 90 < pitch.quantile(0.02) and pitch.quantile(0.98) < 1100, f"{spec.name}: register"
        cents = 1200 * np.log2(pitch / 440.0)
        assert len(np.unique(np.round(cents / 100))) >= 4, f"{spec.name}: a melody, not a drone"
        # vibrato: deviation from the local median pitch inside notes
        dev = cents - cents.rolling(15, center=True, min_periods=15).median()
        wobble = dev[dev.abs() < 50].std()
        if spec.instrument == "wind":
            assert wobble > 2.5, f"{spec.name}: vibrato"
        else:
            assert wobble < 1.5, f"{spec.name}: a plucked string holds its pitch"


def test_instruments_differ_in_timbre(described):
    def median_active(name: str, col: str) -> float:
        table = described[name][1]
        return float(table[col][table["active"] == 1].median())

    pluck = [s.name for s in DEMO_FILES if s.instrument == "pluck"]
    wind = [s.name for s in DEMO_FILES if s.instrument == "wind"]
    # breath noise makes the wind's spectrum flatter than the string's
    assert max(median_active(n, "flatness") for n in pluck) < min(median_active(n, "flatness") for n in wind)


@pytest.mark.parametrize("freq", [110.0, 261.63, 440.0, 987.77])
def test_karplus_strong_is_in_tune(freq):
    rng = np.random.default_rng(0)
    y = karplus_strong(freq=freq, seconds=1.0, excitation=rng.uniform(-1, 1, int(SAMPLE_RATE / freq)), t60=2.0, sr=SAMPLE_RATE)
    table = describe_signal(y, settings=AnalysisSettings())
    measured = table["pitch-hz"][10:60].median()
    assert abs(1200 * np.log2(measured / freq)) < 2.0  # cents
    assert np.abs(y[-2000:]).max() < np.abs(y[:2000]).max()  # it decays


def test_cli_make_demo_corpus(tmp_path):
    res = runner.invoke(app, ["--root", str(tmp_path), "make-demo-corpus"])
    assert res.exit_code == 0, res.output
    assert "wrote 8 of the 8 demo files" in " ".join(res.output.split())
    assert len(list((tmp_path / "corpora/demo/audio").glob("*.wav"))) == 8
    res = runner.invoke(app, ["--root", str(tmp_path), "make-demo-corpus"])
    assert res.exit_code == 0 and "already" in res.output
