"""Malformed input for analyze-corpus: bad files are named, good files still written, exit != 0."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from rlimpro.cli import app
from rlimpro.corpus import MANIFEST, analyze_corpus, read_corpus
from rlimpro.descriptors import DESCRIPTORS
from rlimpro.errors import MismatchError, NotFoundError, ParameterError, PartialFailure

runner = CliRunner()
SR = 44100


def flat(text: str) -> str:
    """Output with line wrapping undone (rich wraps long messages)."""
    return " ".join(text.split())


def run(ws: Path, *args: str):
    return runner.invoke(app, ["--root", str(ws), "analyze-corpus", *args])


def audio_folder(ws: Path, corpus: str = "c") -> Path:
    folder = ws / "corpora" / corpus / "audio"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def good_file(folder: Path, name: str, freq: float = 330.0) -> Path:
    t = np.arange(SR // 2) / SR
    path = folder / name
    sf.write(path, 0.3 * np.sin(2 * np.pi * freq * t), SR)
    return path


def test_corrupt_and_non_audio_files_are_named_and_good_files_still_written(tmp_path):
    folder = audio_folder(tmp_path)
    good_file(folder, "good1.wav")
    good_file(folder, "good2.flac", 440.0)
    (folder / "broken.wav").write_bytes(np.random.default_rng(0).bytes(5000))  # garbage with an audio name
    (folder / "notes.txt").write_text("take 3 was the best\n")  # not audio at all
    (folder / "letter.wav").write_text("this is text, not a RIFF file\n")
    truncated = good_file(folder, "truncated.wav")
    truncated.write_bytes(truncated.read_bytes()[:30])  # header cut short

    res = run(tmp_path, "--corpus", "c", "--workers", "2")
    out = flat(res.output)
    assert res.exit_code != 0
    assert "4 of 6 files" in out and "could not be analyzed" in out
    for name in ("broken.wav", "notes.txt", "letter.wav", "truncated.wav"):
        assert name in out
    assert "not an audio file" in out  # the .txt reason
    features = tmp_path / "corpora/c/features"
    assert sorted(p.name for p in features.glob("*.csv")) == ["good1.csv", "good2.csv"]
    meta = json.loads((features / MANIFEST).read_text())
    assert sorted(meta["files"]) == ["good1", "good2"]
    assert not list(features.glob(".*"))  # nothing half-written
    tables, _ = read_corpus(corpus="c", workspace=tmp_path)
    assert list(tables) == ["good1", "good2"]


def test_partial_failure_carries_the_failures_and_the_result(tmp_path):
    folder = audio_folder(tmp_path)
    good_file(folder, "ok.wav")
    (folder / "bad.wav").write_bytes(b"\x00" * 100)
    with pytest.raises(PartialFailure) as info:
        analyze_corpus(corpus="c", workspace=tmp_path, workers=1, show_progress=False)
    assert list(info.value.failures) == ["bad.wav"]
    assert info.value.result.files == ["ok"]  # type: ignore[attr-defined]
    # a second run still fails on the bad file and leaves the good table alone
    with pytest.raises(PartialFailure):
        analyze_corpus(corpus="c", workspace=tmp_path, workers=1, show_progress=False)


def test_file_that_turns_corrupt_loses_its_stale_table(tmp_path):
    folder = audio_folder(tmp_path)
    good_file(folder, "a.wav")
    b = good_file(folder, "b.wav")
    analyze_corpus(corpus="c", workspace=tmp_path, workers=1, show_progress=False)
    b.write_bytes(b.read_bytes()[:20])
    res = run(tmp_path, "--corpus", "c")
    assert res.exit_code != 0 and "b.wav" in flat(res.output)
    assert not (tmp_path / "corpora/c/features/b.csv").exists()
    tables, meta = read_corpus(corpus="c", workspace=tmp_path)
    assert list(tables) == ["a"] == list(meta["files"])


def test_empty_and_silent_sample_files(tmp_path):
    folder = audio_folder(tmp_path)
    good_file(folder, "ok.wav")
    sf.write(folder / "empty.wav", np.zeros(0), SR)
    sf.write(folder / "nan.wav", np.array([0.0, np.nan, 0.5] * 1000, dtype=np.float32), SR, subtype="FLOAT")
    res = run(tmp_path, "--corpus", "c")
    out = flat(res.output)
    assert res.exit_code != 0
    assert "empty.wav" in out and "no audio samples" in out
    assert "nan.wav" in out and "NaN" in out
    assert (tmp_path / "corpora/c/features/ok.csv").is_file()


def test_empty_folder_is_a_clear_error(tmp_path):
    folder = audio_folder(tmp_path)
    (folder / ".DS_Store").write_bytes(b"\x00")  # hidden files do not count
    res = run(tmp_path, "--corpus", "c")
    assert res.exit_code != 0
    assert f"no audio files in {folder}" in flat(res.output)
    assert not (tmp_path / "corpora/c/features").exists()


def test_missing_corpus_names_the_folder_and_suggests(tmp_path):
    audio_folder(tmp_path, "violin")
    res = run(tmp_path, "--corpus", "violn")
    out = flat(res.output)
    assert res.exit_code != 0
    assert str(tmp_path / "corpora" / "violn" / "audio") in out
    assert "did you mean 'violin'" in out


def test_audio_files_outside_the_audio_folder_are_pointed_out(tmp_path):
    loose = tmp_path / "corpora" / "takes"
    loose.mkdir(parents=True)
    good_file(loose, "take1.wav")
    res = run(tmp_path, "--corpus", "takes")
    assert res.exit_code != 0
    assert f"move them into {loose / 'audio'}" in flat(res.output)


def test_two_files_with_the_same_stem_are_refused_before_writing(tmp_path):
    folder = audio_folder(tmp_path)
    good_file(folder, "take.wav")
    good_file(folder, "take.flac")
    good_file(folder, "other.wav")
    res = run(tmp_path, "--corpus", "c")
    out = flat(res.output)
    assert res.exit_code != 0
    assert "take.flac and take.wav" in out and "rename or remove" in out
    assert not list((tmp_path / "corpora/c").glob("features/*.csv"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--corpus", "c", "--smooth", "0"], "--smooth 0"),
        (["--corpus", "c", "--workers", "0"], "--workers 0"),
        (["--corpus", "../elsewhere"], "no slashes"),
    ],
)
def test_bad_arguments(tmp_path, args, message):
    good_file(audio_folder(tmp_path), "ok.wav")
    res = run(tmp_path, *args)
    assert res.exit_code != 0
    assert message in flat(res.output)
    assert not (tmp_path / "corpora/c/features").exists()


def test_subfolders_are_ignored_with_a_warning(tmp_path):
    folder = audio_folder(tmp_path)
    good_file(folder, "ok.wav")
    (folder / "old").mkdir()
    good_file(folder / "old", "ok.wav")
    res = run(tmp_path, "--corpus", "c")
    assert res.exit_code == 0, res.output
    assert "ignored sub-folder" in flat(res.output)


def test_read_corpus_errors(tmp_path):
    with pytest.raises(NotFoundError, match="not found"):
        read_corpus(corpus="nothing", workspace=tmp_path)
    folder = audio_folder(tmp_path)
    good_file(folder, "ok.wav")
    with pytest.raises(NotFoundError, match="rlimpro analyze-corpus --corpus c"):
        read_corpus(corpus="c", workspace=tmp_path)
    analyze_corpus(corpus="c", workspace=tmp_path, workers=1, show_progress=False)
    features = tmp_path / "corpora/c/features"

    meta = json.loads((features / MANIFEST).read_text())
    (features / MANIFEST).write_text(json.dumps({**meta, "descriptors": list(DESCRIPTORS)[:-1]}))
    with pytest.raises(MismatchError, match="--force"):
        read_corpus(corpus="c", workspace=tmp_path)
    (features / MANIFEST).write_text(json.dumps(meta))

    (features / "ok.csv").write_text("time,active\n0,1\n")
    with pytest.raises(NotFoundError, match="columns"):
        read_corpus(corpus="c", workspace=tmp_path)
    (features / "ok.csv").unlink()
    with pytest.raises(NotFoundError, match="missing"):
        read_corpus(corpus="c", workspace=tmp_path)
    (features / MANIFEST).write_text("{not json")
    with pytest.raises(NotFoundError, match="not readable JSON"):
        read_corpus(corpus="c", workspace=tmp_path)
    with pytest.raises(ParameterError):
        read_corpus(corpus="a/b", workspace=tmp_path)


def test_bad_arguments_for_demo_create_nothing(tmp_path):
    res = run(tmp_path, "--corpus", "demo", "--smooth", "0")
    assert res.exit_code != 0 and "--smooth 0" in flat(res.output)
    assert not (tmp_path / "corpora").exists()


def test_killed_run_leaves_consistent_tables_and_resumes(tmp_path):
    """SIGKILL in the middle of a run: every listed table is complete, the re-run does only the rest."""
    import signal
    import subprocess
    import sys
    import time

    import pandas as pd

    folder = audio_folder(tmp_path, "big")
    n_files = 40
    t = np.arange(5 * SR) / SR
    for i in range(n_files):
        sf.write(folder / f"take{i:02d}.wav", 0.3 * np.sin(2 * np.pi * (200.0 + 10 * i) * t), SR)
    features = tmp_path / "corpora/big/features"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlimpro", "--root", str(tmp_path), "analyze-corpus", "--corpus", "big", "-j", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if (features / MANIFEST).is_file() and json.loads((features / MANIFEST).read_text())["files"]:
                break
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    listed = json.loads((features / MANIFEST).read_text())["files"]
    assert 1 <= len(listed) < n_files, "the run was not interrupted in the middle"
    for stem, entry in listed.items():
        table = pd.read_csv(features / f"{stem}.csv")
        assert len(table) == entry["frames"] == -(-5 * SR // 512)
    tables, _ = read_corpus(corpus="big", workspace=tmp_path)
    assert sorted(tables) == sorted(listed)
    result = analyze_corpus(corpus="big", workspace=tmp_path, workers=2, show_progress=False)
    assert sorted(result.skipped) == sorted(listed)
    assert len(result.analyzed) == n_files - len(listed)
    assert not list(features.glob(".*"))


@pytest.mark.slow
def test_two_identical_analyses_at_once_share_the_work(tmp_path):
    """One lock per corpus: the second command waits for the first, then finds every table done."""
    import os
    import subprocess
    import sys

    from rlimpro.demo_corpus import make_demo_corpus

    make_demo_corpus(workspace=tmp_path)
    cmd = [sys.executable, "-m", "rlimpro", "--root", str(tmp_path), "analyze-corpus", "--corpus", "demo", "-j", "1"]
    env = {**os.environ, "COLUMNS": "200"}
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert not any("Traceback" in err for _, err in outs)
    joined = " ".join(" ".join((out + err).split()) for out, err in outs)
    assert "waiting for process" in joined and "which is writing the tables of corpus 'demo'" in joined, outs
    analyzed = sorted(int(out.split("analyzed ")[1].split()[0]) if "analyzed " in out else 0 for out, _ in outs)
    assert analyzed == [0, 8], outs  # the second analyzed nothing: every file was done
