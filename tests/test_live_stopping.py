"""Stopping ``rlimpro live`` with real signals: nothing lost, nothing written twice, nothing half-written.

A real ``rlimpro live --fast`` subprocess is interrupted at random moments (set-up, the hop loop, the
teardown). After every stop the session log's rows, its sidecar's ``rows`` and the audio file's frames
/ hop agree, time never runs backwards, and no hidden partial file is left; or, when the stop came
before the session started, nothing was written at all. ``evaluate --log`` refuses damaged logs.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from rlimpro.cli import app

from .live_support import trained_run

pytestmark = pytest.mark.slow
HOP = 512


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    ws, run_dir = trained_run(tmp_path_factory)
    long = ws / "long.wav"
    if not long.exists():  # about a minute of the demo corpus: a --fast rehearsal of a few seconds
        parts = [sf.read(p)[0] for p in sorted((ws / "corpora" / "demo" / "audio").glob("*.wav"))]
        sf.write(long, np.concatenate(parts), 44100, subtype="PCM_16")
    return ws, run_dir


def restore_sigint() -> None:
    """A background job of a non-interactive shell ignores SIGINT; a terminal's Ctrl-C does not."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_live(ws: Path, folder: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "rlimpro", "--root", str(ws), "live", "--synth", "fm", "--input", "long.wav",
         "--output", str(folder / "take.wav"), "--log", str(folder / "take.csv"), "--fast", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=restore_sigint,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def started(folder: Path) -> bool:
    """The session log's temporary file exists: the session is set up and about to play."""
    return any(p.name.startswith(".take.csv.") for p in folder.iterdir())


def check_consistent(folder: Path, *, n_samples: int) -> str:
    """Assert the files of one stopped session agree; return "nothing" or the sidecar's stopped_by."""
    hidden = sorted(p.name for p in folder.iterdir() if p.name.startswith("."))
    assert hidden == [], f"partial files left behind: {hidden}"
    log, side, audio = folder / "take.csv", folder / "take.json", folder / "take.wav"
    if not log.exists():
        assert not side.exists() and not audio.exists(), "files of a session that never logged a row"
        return "nothing"
    assert side.exists(), "a session log without its sidecar"
    meta = json.loads(side.read_text())
    table = pd.read_csv(log)
    assert len(table) == meta["rows"], f"{len(table)} rows in the log, {meta['rows']} in its sidecar"
    assert (np.diff(table["time"].to_numpy()) > 0).all(), "time runs backwards in the log"
    np.testing.assert_allclose(table["time"].to_numpy(), np.arange(len(table)) * HOP / 44100, atol=1e-9)
    frames = sf.info(audio).frames
    assert frames == min(meta["rows"] * HOP, n_samples), f"{frames} audio frames for {meta['rows']} log rows"
    return meta["stopped_by"]


def test_twenty_interrupts_at_random_moments_leave_consistent_files(run, tmp_path):
    ws, _ = run
    n_samples = sf.info(ws / "long.wav").frames
    rng = random.Random(20260616)
    outcomes = []
    for k in range(20):
        folder = tmp_path / f"take{k:02d}"
        folder.mkdir()
        proc = start_live(ws, folder)
        try:
            if k % 4 == 0:  # any moment from the start: set-up included
                time.sleep(rng.uniform(0.0, 6.0))
            else:  # a moment of the session itself (a --fast minute plays in a few seconds)
                deadline = time.monotonic() + 120
                while not started(folder) and proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.005)
                time.sleep(rng.uniform(0.0, 2.5))
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert "Traceback" not in err, err
        assert proc.returncode in (0, 130), err
        outcome = check_consistent(folder, n_samples=n_samples)
        if outcome == "nothing":  # stopped before the session opened its files (or while Python started)
            assert proc.returncode == 130, err
        else:
            assert proc.returncode == 0, err
        outcomes.append(outcome)
    print("outcomes of the 20 interrupts:", {o: outcomes.count(o) for o in sorted(set(outcomes))})
    assert outcomes.count("interrupted") >= 8, outcomes  # most landed inside the hop loop


def test_a_second_interrupt_quits_at_once_and_leaves_only_complete_files(run, tmp_path):
    ws, _ = run
    n_samples = sf.info(ws / "long.wav").frames
    codes = []
    for k, gap in enumerate((0.0, 0.001, 0.01, 0.05, 0.3)):
        folder = tmp_path / f"twice{k}"
        folder.mkdir()
        proc = start_live(ws, folder)
        try:
            deadline = time.monotonic() + 120
            while not started(folder) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(0.3)
            proc.send_signal(signal.SIGINT)
            time.sleep(gap)
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert "Traceback" not in err, err
        assert proc.returncode in (0, 130), err
        check_consistent(folder, n_samples=n_samples)
        codes.append(proc.returncode)
    print("exit codes after two interrupts:", codes)


def test_sigterm_during_the_session_is_a_clean_stop(run, tmp_path):
    ws, _ = run
    proc = start_live(ws, tmp_path)
    try:
        while not started(tmp_path) and proc.poll() is None:
            time.sleep(0.005)
        time.sleep(0.5)
        proc.terminate()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert check_consistent(tmp_path, n_samples=sf.info(ws / "long.wav").frames) == "interrupted"
    assert "stopped (Ctrl-C); everything is saved" in out


def test_ctrl_c_during_set_up_says_nothing_was_written(run, tmp_path):
    ws, _ = run
    proc = start_live(ws, tmp_path)
    time.sleep(0.8)  # importing and loading: before the session opens anything
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "resume" not in err
    assert check_consistent(tmp_path, n_samples=1) == "nothing"


# ---------------------------------------------------------------- evaluate --log refuses damaged logs
def _score(ws: Path, log: Path):
    return CliRunner().invoke(app, ["--root", str(ws), "evaluate", "latest", "--synth", "fm", "--log", str(log)])


def test_evaluate_refuses_a_log_written_twice_or_cut_short(run, tmp_path):
    ws, _ = run
    res = CliRunner().invoke(app, ["--root", str(ws), "live", "--synth", "fm", "--input", "long.wav", "--fast",
                                   "--duration", "4", "--output", str(tmp_path / "ok.wav"), "--log", str(tmp_path / "ok.csv")])
    assert res.exit_code == 0, res.output
    assert _score(ws, tmp_path / "ok.csv").exit_code == 0

    lines = (tmp_path / "ok.csv").read_text().splitlines(keepends=True)
    meta = (tmp_path / "ok.json").read_text()
    # what an interrupted flush used to leave: a block of rows written again (time runs backwards)
    doubled = tmp_path / "doubled.csv"
    doubled.write_text("".join(lines[:300] + lines[44:300] + lines[300:]))
    (tmp_path / "doubled.json").write_text(meta)
    res = _score(ws, doubled)
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "rows but its sidecar" in res.output or "runs backwards" in res.output, res.output

    # duplicates with a sidecar that agrees with the count still fail on time
    (tmp_path / "doubled.json").write_text(json.dumps({**json.loads(meta), "rows": len(lines) - 1 + 256}))
    res = _score(ws, doubled)
    assert res.exit_code == 1 and "time runs backwards at line 301" in res.output, res.output

    cut = tmp_path / "cut.csv"
    cut.write_text("".join(lines[:-10]))
    (tmp_path / "cut.json").write_text(meta)
    res = _score(ws, cut)
    assert res.exit_code == 1 and f"holds {len(lines) - 11} rows but its sidecar cut.json says {len(lines) - 1}" in res.output
