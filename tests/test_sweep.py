"""The sweep stage: planning, ranking, and a real 4-trial sweep on local Ray that is killed and resumed."""

from __future__ import annotations

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
import yaml

from rlimpro.runs import list_runs
from rlimpro.sweep import SweepSpec, load_sweep, plan_trials, ranked_rows
from tests.learning_data import tiny_workspace

pytest.importorskip("ray", reason="Ray is not installed: pip install 'rlimpro[ray]' (make install does)")

ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "RAY_USAGE_STATS_ENABLED": "0"}

SWEEP = {
    "base": "tiny.yaml",
    "timesteps": 128,
    "max_concurrent": 2,
    "search": {
        "reward_type": {"grid": ["linear", "cubic"]},
        "features": {"grid": [["loudness-dBFS", "pitch-hz"], ["loudness-dBFS", "centroid", "pitch-hz"]]},
        "step_size": {"uniform": [0.05, 0.3]},
        "algorithm_kwargs.learning_rate": {"loguniform": [1.0e-4, 1.0e-2]},
    },
}


def write_sweep(folder: Path, name: str = "tiny-sweep", **changes) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**SWEEP, **changes}, sort_keys=False))
    return path


# ---------------------------------------------------------------- planning (no Ray)
def test_plan_is_grid_times_samples_and_reproducible():
    spec = SweepSpec(base={}, num_samples=3, seed=5, search={
        "algorithm": {"grid": ["PPO", "A2C"]},
        "step_size": {"uniform": [0.01, 0.2]},
        "algorithm_kwargs.learning_rate": {"loguniform": [1e-4, 1e-2]},
        "n_envs": {"randint": [1, 3]},
        "reward_type": {"choice": ["linear", "cubic"]},
    })
    trials = plan_trials(spec)
    assert [t["id"] for t in trials] == [f"t{i:03d}" for i in range(6)]
    assert [t["params"]["algorithm"] for t in trials] == ["PPO"] * 3 + ["A2C"] * 3
    for t in trials:
        p = t["params"]
        assert 0.01 <= p["step_size"] <= 0.2 and 1e-4 <= p["algorithm_kwargs.learning_rate"] <= 1e-2
        assert p["n_envs"] in (1, 2, 3) and p["reward_type"] in ("linear", "cubic")
    assert len({t["params"]["step_size"] for t in trials}) == 6  # independent draws
    assert plan_trials(spec) == trials  # same seed, same trials
    assert plan_trials(spec.model_copy(update={"seed": 6})) != trials


def test_variant_sets_keys_together_and_dotted_keys_merge(tmp_path):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump({
        "synth": "sine", "corpus": "c", "algorithm": "PPO",
        "algorithm_kwargs": {"n_steps": 64, "batch_size": 64}, "held_out_fraction": 0.3,
    }))
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"base": "base.yaml", "search": {
        "variant": {"grid": [{"algorithm": "PPO"}, {"algorithm": "A2C", "algorithm_kwargs": {"n_steps": 8}}]},
        "algorithm_kwargs.learning_rate": {"grid": [0.001]},
    }}))
    spec, base, trials = load_sweep(path)
    from rlimpro.sweep import _trial_config

    configs = [_trial_config(base, t["params"], spec) for t in trials]
    assert configs[0]["algorithm_kwargs"] == {"n_steps": 64, "batch_size": 64, "learning_rate": 0.001}
    assert configs[1]["algorithm"] == "A2C"
    assert configs[1]["algorithm_kwargs"] == {"n_steps": 8, "learning_rate": 0.001}


def test_ranking_puts_best_first_and_unfinished_last(tmp_path):
    trials = [{"id": f"t00{i}", "params": {"step_size": 0.1 * (i + 1)}} for i in range(4)]
    ledger = {
        "t000": {"status": "done", "score": 0.9, "run": str(tmp_path / "a"), "rmse": {"agent": 2.0}, "ratios": {}},
        "t001": {"status": "failed", "error": "boom"},
        "t003": {"status": "done", "score": 0.4, "run": str(tmp_path / "b"), "rmse": {"agent": 1.0}, "ratios": {}},
    }
    rows = ranked_rows(trials, ledger, workspace=tmp_path, errors={})
    assert [(r["trial"], r["rank"], r["status"]) for r in rows] == [
        ("t003", 1, "done"), ("t000", 2, "done"), ("t001", None, "failed"), ("t002", None, "pending"),
    ]
    assert rows[0]["run"] == "b" and rows[0]["rmse.agent"] == 1.0


# ---------------------------------------------------------------- a real sweep on local Ray
def _descendants(pid: int) -> set[int]:
    out: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            for c in kids:
                if c not in out:
                    out.add(c)
                    todo.append(c)
    return out


def _alive(pids: set[int]) -> list[int]:
    left = []
    for p in pids:
        try:
            state = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            left.append(p)
    return left


@pytest.mark.slow
def test_four_trial_sweep_killed_then_resumed(tmp_path_factory, tmp_path):
    ws = tiny_workspace(tmp_path_factory, tmp_path / "ws")
    sweep = write_sweep(ws / "configs")
    cmd = [sys.executable, "-m", "rlimpro", "--root", str(ws), "sweep", str(sweep)]
    folder = ws / "sweeps" / "tiny-sweep"
    ledger = folder / "trials"

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 240
    ray_pids: set[int] = set()
    while not list(ledger.glob("t*.json")):
        ray_pids |= _descendants(proc.pid)
        if proc.poll() is not None:
            pytest.fail(f"sweep ended before a trial finished: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("no trial finished within 240 s")
        time.sleep(0.2)
    ray_pids |= _descendants(proc.pid)
    assert ray_pids, "the sweep started no Ray processes"
    proc.send_signal(signal.SIGTERM)  # `kill`
    proc.communicate(timeout=120)
    assert proc.returncode != 0
    deadline = time.monotonic() + 30
    while _alive(ray_pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(ray_pids), "Ray processes left behind after the sweep was killed"

    first = {p.name: json.loads(p.read_text()) for p in ledger.glob("t*.json")}
    assert 1 <= len(first) < 4
    assert all(e["status"] == "done" for e in first.values()), first
    models = ws / "synths" / "sine" / "models"
    unfinished = {p.name for p in models.iterdir()} - {Path(e["run"]).name for e in first.values()}

    again = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=400)
    assert again.returncode == 0, again.stderr
    assert f"4 of 4 trials done; {len(first)} finished before and not run again" in again.stdout
    entries = {p.name: json.loads(p.read_text()) for p in ledger.glob("t*.json")}
    assert len(entries) == 4
    for name, entry in first.items():  # resumed, not restarted: the first trials were not run again
        assert entries[name] == entry

    runs = list_runs(synth="sine", workspace=ws)
    assert len(runs) == 4
    # one run folder per trial: the killed attempts' folders were set aside, not left among the runs
    assert {p.name for p in models.iterdir()} == {Path(e["run"]).name for e in entries.values()}
    abandoned = folder / "abandoned"
    assert ({p.name for p in abandoned.iterdir()} if abandoned.exists() else set()) == unfinished
    assert {str(r) for r in runs} == {e["run"] for e in entries.values()}
    for entry in entries.values():
        run = Path(entry["run"])
        evaluation = json.loads((run / "evaluation.json").read_text())
        assert entry["score"] == pytest.approx(evaluation["ratios"]["agent_over_floor"], rel=0, abs=0)
        trained = yaml.safe_load((run / "config.yaml").read_text())
        planned = yaml.safe_load((ledger / f"{entry['id']}.yaml").read_text())
        assert trained["timesteps"] == 128
        assert trained["reward_type"] == planned["reward_type"] == entry["params"]["reward_type"]
        assert trained["features"] == entry["params"]["features"]
        assert trained["algorithm_kwargs"]["learning_rate"] == entry["params"]["algorithm_kwargs.learning_rate"]
        assert "sweep" in (run / "command.txt").read_text()

    summary = pd.read_csv(folder / "summary.csv")
    assert list(summary["rank"]) == [1, 2, 3, 4]
    scores = summary["ratios.agent_over_floor"].to_numpy()
    assert np.all(np.diff(scores) >= 0) and np.all(np.isfinite(scores))
    assert set(summary["status"]) == {"done"}
    assert {"reward_type", "features", "step_size", "algorithm_kwargs.learning_rate", "rmse.agent", "run"} <= set(summary.columns)
    meta = json.loads((folder / "summary.json").read_text())
    assert meta["metric"] == "ratios.agent_over_floor" and meta["done"] == 4
    best = summary.iloc[0]
    assert best["trial"] in again.stdout and "ranked by ratios.agent_over_floor" in again.stdout

    # a third run has nothing left to do and starts no Ray
    third = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=120)
    assert third.returncode == 0, third.stderr
    assert "4 of 4 trials done; 4 finished before" in third.stdout
    assert len(list_runs(synth="sine", workspace=ws)) == 4
