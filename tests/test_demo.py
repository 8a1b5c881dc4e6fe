"""`python -m rlimpro.demo` end to end, with a tiny demo config in the workspace (the real one trains
for a few minutes; `make demo` runs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from rlimpro.runs import list_runs


@pytest.mark.slow
def test_demo_runs_the_whole_pipeline(tmp_path):
    cfg = yaml.safe_load(open(os.path.join(os.path.dirname(__file__), "..", "configs", "demo.yaml")))
    cfg.update(synth="sine", lookup={"subdiv": 6, "params": 2}, features=["pitch"], features_reward=["pitch-midi"],
               timesteps=512, n_envs=2, net_arch=[16], eval_freq=256, checkpoint_freq=0, interpolation="nearest",
               algorithm_kwargs={"n_steps": 128, "batch_size": 64, "n_epochs": 2})
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "demo.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.run([sys.executable, "-m", "rlimpro.demo"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "RLIMPRO_ROOT": str(tmp_path), "COLUMNS": "120"})
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(list((tmp_path / "corpora" / "demo" / "audio").glob("*.wav"))) == 8
    assert (tmp_path / "corpora" / "demo" / "features" / "analysis.json").is_file()
    assert (tmp_path / "synths" / "sine" / "lookup.csv").is_file()
    runs = list_runs(synth="sine", workspace=tmp_path)
    assert len(runs) == 1
    ev = json.loads((runs[0] / "evaluation.json").read_text())
    assert ev["files_evaluated"] == ["07-pluck-minor", "08-wind-pentatonic"]
    assert ev["rendered"]["method"] == "continuous" and "follower" in ev["rendered"]["rmse"]
    assert "headline (rendered, held-out files)" in proc.stdout and "nearest-neighbour follower" in proc.stdout
    assert "pitch" in proc.stdout and "semitones off" in proc.stdout and "--mix" in proc.stdout
    q = ev["rendered"]["ratios"]
    meets = q["agent_over_follower"] <= 0.85 and q["agent_over_fixed"] <= 0.7
    assert proc.returncode == (0 if meets else 1), proc.stdout + proc.stderr
