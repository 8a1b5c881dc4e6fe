"""train and the runs it leaves, told truthfully: set-up interrupted, a damaged table, a killed run.

- Ctrl-C during set-up used to say "progress so far is saved, run the same command to resume": nothing
  was saved and train does not resume.
- A non-numeric cell in lookup.csv was a ValueError traceback from the synth model.
- A SIGKILLed run stayed ``status: training`` and ``evaluate latest`` scored it without a word.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rlimpro.cli import app
from tests.learning_data import tiny_workspace, write_config

pytestmark = pytest.mark.slow


@pytest.fixture
def ws(tmp_path_factory, tmp_path) -> Path:
    return tiny_workspace(tmp_path_factory, tmp_path / "ws")


def train_process(ws: Path, config: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "rlimpro", "--root", str(ws), "train", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a background job ignores SIGINT
    )


@pytest.mark.parametrize("delay", [0.3, 1.0, 2.0, 3.0])
def test_ctrl_c_during_set_up_never_claims_progress_was_saved(ws, delay):
    config = write_config(ws / "configs" / "long.yaml", timesteps=2_000_000, eval_freq=0, checkpoint_freq=0)
    proc = train_process(ws, config)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "resume" not in err and "progress so far is saved" not in err, err
    runs = sorted((ws / "synths" / "sine" / "models").glob("*")) if (ws / "synths" / "sine" / "models").exists() else []
    for run in runs:  # interrupted before training: no folder; once training: a saved model and its status
        info = json.loads((run / "run.json").read_text())
        assert info["status"] == "interrupted" and (run / "final_model.zip").is_file(), info
        assert "model saved to" in err
    if not runs:
        assert "interrupted" in err


def test_a_non_numeric_cell_in_the_lookup_table_is_one_line(ws):
    table = ws / "synths" / "sine" / "lookup.csv"
    lines = table.read_text().splitlines(keepends=True)
    cells = lines[5].split(",")
    cells[3] = "loud"
    lines[5] = ",".join(cells)
    table.write_text("".join(lines))
    column = lines[0].split(",")[3]
    res = CliRunner().invoke(app, ["--root", str(ws), "train", str(ws / "configs" / "tiny.yaml")])
    assert res.exit_code == 1, res.output
    said = " ".join(res.output.split())
    assert f"{table}, line 6, column '{column}': 'loud' is not a number" in said and "Traceback" not in res.output
    assert not (ws / "synths" / "sine" / "models").exists()


def test_a_killed_run_is_named_by_evaluate_and_live(ws, tmp_path):
    config = write_config(ws / "configs" / "long.yaml", timesteps=2_000_000, eval_freq=128, checkpoint_freq=0)
    proc = train_process(ws, config)
    models = ws / "synths" / "sine" / "models"
    try:
        deadline = time.monotonic() + 180
        while not list(models.glob("*/best_model.zip")) if models.exists() else True:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        proc.kill()  # SIGKILL: nothing can be saved or noted
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    (run,) = models.iterdir()
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "training" and info["pid"] == proc.pid
    res = CliRunner().invoke(app, ["--root", str(ws), "evaluate", "latest", "--synth", "sine"])
    said = " ".join(res.output.split())
    assert f"run {run.name} never finished: its training stopped without a word (killed?)" in said, res.output
    audio = next((ws / "corpora" / "tiny" / "audio").glob("*.wav"))
    res = CliRunner().invoke(app, ["--root", str(ws), "live", "--synth", "sine", "--input", str(audio), "--fast",
                                   "--output", str(tmp_path / "x.wav"), "--log", str(tmp_path / "x.csv")])
    assert res.exit_code == 0, res.output
    assert f"run {run.name} never finished" in " ".join(res.output.split()), res.output
