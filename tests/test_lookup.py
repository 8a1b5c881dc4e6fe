"""The lookup stage: table layout, metadata, grid order, resumability (real kill and Ctrl-C)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from rlimpro.cli import app
from rlimpro.descriptors import AnalysisSettings
from rlimpro.descriptors.registry import DESCRIPTORS
from rlimpro.lookup import compute_lookup, grid, render_and_describe
from rlimpro.synths import load_spec

runner = CliRunner()


def test_cli_fm_subdiv_10_in_empty_dir(workspace):
    res = runner.invoke(app, ["--root", str(workspace), "lookup", "--synth", "fm", "--params", "3", "--subdiv", "10"])
    assert res.exit_code == 0, res.output
    table = workspace / "synths" / "fm" / "lookup.csv"
    df = pd.read_csv(table)
    assert len(df) == 1000
    assert list(df.columns) == ["param-0", "param-1", "param-2", *DESCRIPTORS]
    assert np.isfinite(df.to_numpy()).all()
    meta = json.loads(table.with_suffix(".json").read_text())
    assert meta["synth"] == "fm" and meta["n_params"] == 3 and meta["subdiv"] == 10
    assert meta["engine"] == "native:fm" and meta["duration"] == 1.0
    assert meta["analysis"]["sample_rate"] == 44100 and meta["analysis"]["window"] == 1024
    assert meta["descriptors"] == list(DESCRIPTORS) and meta["rlimpro_version"]
    assert not (workspace / "synths" / "fm" / ".lookup-partial").exists()
    # re-running is a no-op
    again = runner.invoke(app, ["--root", str(workspace), "lookup", "--synth", "fm", "--subdiv", "10"])
    assert again.exit_code == 0 and "up to date" in again.output


def test_grid_order_is_c_order():
    g = grid(n_params=3, subdiv=4)
    assert g.shape == (64, 3)
    i = 27
    idx = np.unravel_index(i, (4, 4, 4))
    assert_allclose(g[i], np.linspace(0, 1, 4)[list(idx)], atol=0, rtol=0)
    assert g[0].tolist() == [0, 0, 0] and g[-1].tolist() == [1, 1, 1] and g[1].tolist() == [0, 0, 1 / 3]


def test_rows_match_direct_render(workspace):
    res = compute_lookup(synth="sine", workspace=workspace, subdiv=5, duration=0.5, workers=1, show_progress=False)
    df = pd.read_csv(res.path)
    spec = load_spec("sine", workspace=workspace)
    for row in (0, 7, 24):
        p = df.loc[row, ["param-0", "param-1"]].to_numpy()[None]
        direct = render_and_describe(spec, p, duration=0.5, settings=AnalysisSettings())[0]
        assert_allclose(df.loc[row, list(DESCRIPTORS)].to_numpy(dtype=float), direct, rtol=1e-6, atol=1e-6)
    # the sine table sees its own mapping: pitch rises with param-0 at full amplitude
    loud = df[df["param-1"] == 1.0]
    assert np.all(np.diff(loud["pitch-hz"].to_numpy()) > 0)
    f_expected = spec.params[0].to_physical(loud["param-0"].to_numpy())
    assert_allclose(loud["pitch-hz"], f_expected, rtol=0.01, atol=0)


def test_worker_count_does_not_change_table(workspace, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    a = compute_lookup(synth="fm", workspace=workspace, subdiv=5, duration=0.2, workers=1, show_progress=False)
    b = compute_lookup(synth="fm", workspace=other, subdiv=5, duration=0.2, workers=2, show_progress=False)
    assert a.path.read_bytes() == b.path.read_bytes()


def test_force_and_changed_settings(workspace):
    compute_lookup(synth="sine", workspace=workspace, subdiv=3, duration=0.2, show_progress=False)
    again = compute_lookup(synth="sine", workspace=workspace, subdiv=3, duration=0.2, show_progress=False)
    assert again.skipped
    forced = compute_lookup(synth="sine", workspace=workspace, subdiv=3, duration=0.2, force=True, show_progress=False)
    assert not forced.skipped
    other = compute_lookup(synth="sine", workspace=workspace, subdiv=4, duration=0.2, show_progress=False)
    assert not other.skipped and len(pd.read_csv(other.path)) == 16


SUBDIV = 12  # 1728 rows, 35 chunks
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def _lookup_cmd(root: Path) -> list[str]:
    return [sys.executable, "-m", "rlimpro.cli", "--root", str(root), "lookup", "--synth", "fm",
            "--subdiv", str(SUBDIV), "--duration", "0.5"]


@pytest.fixture(scope="module")
def reference_table(tmp_path_factory) -> Path:
    """The uninterrupted table, computed once."""
    root = tmp_path_factory.mktemp("ref")
    subprocess.run(_lookup_cmd(root), check=True, capture_output=True, env=ENV, timeout=600)
    return root / "synths" / "fm" / "lookup.csv"


def _wait_for_chunks(partial: Path, n: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if partial.is_dir() and len(list(partial.glob("chunk-*.npy"))) >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"lookup finished before it could be interrupted: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("no chunks appeared")


def _assert_no_process_mentions(text: str, timeout: float = 10.0) -> None:
    """No live process has ``text`` in its command line (workers die with their parent)."""
    deadline = time.monotonic() + timeout
    while True:
        left = []
        for cmd in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if text in cmd.read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    left.append(cmd.parent.name)
            except OSError:
                continue
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not left, f"processes left behind: {left}"


@pytest.mark.slow
@pytest.mark.parametrize("how", ["kill", "ctrl-c"])
def test_interrupted_lookup_resumes_to_identical_table(tmp_path, how, reference_table):
    run_root = tmp_path / "run"
    partial = run_root / "synths" / "fm" / ".lookup-partial"
    proc = subprocess.Popen(_lookup_cmd(run_root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    _wait_for_chunks(partial, 4, proc)
    if how == "kill":
        proc.kill()
        proc.wait(timeout=30)
        _assert_no_process_mentions(str(run_root))
    else:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "resume" in err
    table = run_root / "synths" / "fm" / "lookup.csv"
    assert not table.exists()  # nothing half-written
    saved = len(list(partial.glob("chunk-*.npy")))
    assert 4 <= saved < 35

    done = subprocess.run(_lookup_cmd(run_root), capture_output=True, text=True, env=ENV, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "resumed" in done.stdout
    assert table.read_bytes() == reference_table.read_bytes()
