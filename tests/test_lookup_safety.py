"""lookup against clumsy users and busy machines: two at once, a damaged table, a huge job, Ctrl-C.

Each test runs the real ``rlimpro lookup`` command (subprocesses where it matters: two processes at
once, real SIGINT) and checks what a user would see and what is left on disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rlimpro.cli import app

pytestmark = pytest.mark.slow


def rlimpro(ws: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "rlimpro", "--root", str(ws), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a background job ignores SIGINT
    )


def test_two_identical_lookups_at_once_compute_the_table_once(tmp_path):
    """Both used to compute the whole grid, and the second crashed on the first's chunk files."""
    args = ("lookup", "--synth", "fm", "--subdiv", "12", "--duration", "0.5", "--workers", "1")
    first, second = rlimpro(tmp_path, *args), rlimpro(tmp_path, *args)
    outs = [p.communicate(timeout=600) for p in (first, second)]
    for p, (_, err) in zip((first, second), outs, strict=True):
        assert p.returncode == 0, err
        assert "Traceback" not in err
    said = sorted("up to date" if "is up to date" in out else "wrote" if "wrote" in out else out for out, _ in outs)
    assert said == ["up to date", "wrote"], outs
    assert any("waiting for process" in err and "which is writing the lookup table" in err for _, err in outs), outs
    table = pd.read_csv(tmp_path / "synths" / "fm" / "lookup.csv")
    assert len(table) == 12**3 and not (tmp_path / "synths" / "fm" / ".lookup-partial").exists()
    assert sorted(p.name for p in (tmp_path / "synths" / "fm").iterdir()) == ["lookup.csv", "lookup.json"]


def test_a_truncated_table_is_not_up_to_date(tmp_path):
    args = ["--root", str(tmp_path), "lookup", "--synth", "sine", "--subdiv", "6", "--duration", "0.2", "-j", "1"]
    assert CliRunner().invoke(app, args).exit_code == 0
    path = tmp_path / "synths" / "sine" / "lookup.csv"
    whole = path.read_text()
    lines = whole.splitlines(keepends=True)
    path.write_text("".join(lines[:-5]))  # a copy cut short; the sidecar is still the complete table's
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "is up to date" not in res.output and "wrote" in res.output
    assert path.read_text() == whole
    res = CliRunner().invoke(app, args)
    assert "is up to date" in res.output


def test_a_huge_lookup_is_estimated_and_needs_yes(tmp_path):
    res = CliRunner().invoke(app, ["--root", str(tmp_path), "lookup", "--synth", "granular", "--params", "5",
                                   "--subdiv", "20", "--duration", "60"])
    assert res.exit_code == 1, res.output
    out = " ".join(res.output.split())
    assert "3,200,000 of 3,200,000 grid points to render (60 s each): about" in out
    assert "GB of memory per worker" in out and "add --yes to start it" in out
    hours = float(out.split("about ")[1].split(" h ")[0])
    assert hours > 10  # 3.2 million sounds of a minute: days on a laptop
    assert not (tmp_path / "synths" / "granular").exists() or not any((tmp_path / "synths" / "granular").rglob("*.npy"))
    # a small job just runs
    res = CliRunner().invoke(app, ["--root", str(tmp_path), "lookup", "--synth", "sine", "--subdiv", "3",
                                   "--duration", "0.1"])
    assert res.exit_code == 0 and "grid points to render" not in res.output


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"rlimpro ended early: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _workers_of(pid: int) -> list[tuple[int, str]]:
    """Live children of ``pid`` as (pid, start time): the start time tells a reused pid apart."""
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and int(stat[1]) == pid and stat[0] != "Z":
                kids.append((int(entry.name), stat[19]))
    return kids


def _running(worker: tuple[int, str]) -> bool:
    stat = _stat(worker[0])
    return stat is not None and stat[19] == worker[1] and stat[0] != "Z"


def test_ctrl_c_stops_long_chunks_at_once(tmp_path):
    """Ctrl-C used to wait for the workers to finish their chunks (19 s with long sounds)."""
    from rlimpro.descriptors.analyzer import AnalysisSettings
    from rlimpro.lookup import CHUNK_ROWS, _worker_state, render_and_describe
    from rlimpro.synths import load_spec

    duration = 30.0
    spec = load_spec("granular", workspace=tmp_path, n_params=3)
    _worker_state(spec, AnalysisSettings())
    t0 = time.perf_counter()
    render_and_describe(spec, np.full((1, 3), 0.5), duration=duration, settings=AnalysisSettings())
    chunk_seconds = (time.perf_counter() - t0) * CHUNK_ROWS  # what a worker needs for one chunk here

    proc = rlimpro(tmp_path, "lookup", "--synth", "granular", "--params", "3", "--subdiv", "6", "--duration",
                   str(duration), "--workers", "2", "--yes")
    try:
        _wait_for(lambda: len(_workers_of(proc.pid)) >= 2, proc)
        time.sleep(1.0)  # both workers are inside their first chunk
        workers = _workers_of(proc.pid)
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=300)
        delay = time.perf_counter() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    print(f"Ctrl-C acted in {delay:.2f} s; one chunk takes a worker about {chunk_seconds:.1f} s here")
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "lookup interrupted before a chunk was finished; nothing was saved" in err, err
    assert delay < 0.5 * chunk_seconds  # it did not wait for the chunks (measured against this machine's chunk)
    assert len(workers) == 2 and not [w for w in workers if _running(w)]  # the workers were stopped, not awaited


def test_interrupted_force_says_how_to_resume_truthfully(tmp_path):
    """--force used to delete the saved chunks, so "run the same command to resume" was false for it."""
    args = ("lookup", "--synth", "granular", "--params", "3", "--subdiv", "10", "--duration", "2", "--workers", "2")
    assert CliRunner().invoke(app, ["--root", str(tmp_path), "lookup", "--synth", "granular", "--params", "3",
                                    "--subdiv", "3", "--duration", "0.1"]).exit_code == 0  # an older table exists
    partial = tmp_path / "synths" / "granular" / ".lookup-partial"
    proc = rlimpro(tmp_path, *args, "--force")
    try:
        _wait_for(lambda: partial.is_dir() and any(partial.glob("chunk-*.npy")), proc)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    saved = len(list(partial.glob("chunk-*.npy")))
    err = " ".join(err.split())
    assert f"lookup interrupted: {saved} of 20 chunks are saved in {partial}; run the same command to resume" in err
    res = CliRunner().invoke(app, ["--root", str(tmp_path), *args, "--force"])  # the same command: resumes
    assert res.exit_code == 0 and f"resumed {saved} saved chunks" in " ".join(res.output.split()), res.output
