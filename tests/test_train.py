"""The train stage: a tiny real training through the CLI, the run directory, Ctrl-C with a real signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from rlimpro.cli import app
from rlimpro.descriptors.registry import DESCRIPTORS
from rlimpro.runs import list_runs, load_feature_space, load_synth_model, model_path, resolve_run
from rlimpro.train import train
from rlimpro.train_config import TrainConfig
from tests.learning_data import HELD_OUT, tiny_workspace, write_config

runner = CliRunner()


@pytest.fixture
def ws(tmp_path_factory, tmp_path):
    return tiny_workspace(tmp_path_factory, tmp_path / "ws")


def test_cli_train_leaves_a_complete_run_dir(ws):
    res = runner.invoke(app, ["--root", str(ws), "train", str(ws / "configs" / "tiny.yaml"), "--timesteps", "200", "--seed", "7"])
    assert res.exit_code == 0, res.output
    runs = list_runs(synth="sine", workspace=ws)
    assert len(runs) == 1
    run = runs[0]
    assert run.parent == ws / "synths" / "sine" / "models"
    stamp, algo = run.name.rsplit("-", 1)
    assert algo == "PPO" and len(stamp) == len("20250101-120000")
    for name in ("final_model.zip", "best_model.zip", "config.yaml", "command.txt", "run.json",
                 "feature_space.json", "synth_model.npz", "evaluation.json", "evaluation.png"):
        assert (run / name).is_file(), name
    assert list((run / "checkpoints").glob("model_*_steps.zip"))
    assert list((run / "tb").rglob("events.out.tfevents.*"))
    assert sorted(p.name for p in (run / "trajectories").iterdir()) == [f"{HELD_OUT[0]}.csv", f"{HELD_OUT[0]}.json"]
    # the resolved config: every key, overrides applied, loadable by the schema
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["timesteps"] == 200 and resolved["seed"] == 7
    assert set(resolved) == set(TrainConfig.model_fields)
    TrainConfig(**resolved)
    command = (run / "command.txt").read_text()
    assert "train" in command and "--timesteps 200" in command
    meta = json.loads((run / "run.json").read_text())
    assert meta["status"] == "trained" and meta["steps"] >= 200
    assert meta["held_out_files"] == HELD_OUT and HELD_OUT[0] not in meta["train_files"]
    ev = json.loads((run / "evaluation.json").read_text())
    assert set(ev["rmse"]) == {"agent", "random", "fixed", "floor", "follower", "follower_smooth"}
    assert "steps/s" in res.output and "follower" in res.output and "move/hop" in res.output
    # live and evaluate load the run's pieces by these functions
    assert resolve_run("latest", synth="sine", workspace=ws) == run.resolve()
    assert model_path(run).name == "best_model.zip"
    assert load_feature_space(run).features == ["loudness-dBFS", "centroid", "pitch-hz"]
    assert load_synth_model(run).values.shape == (36, len(DESCRIPTORS))


def test_seed_makes_training_reproducible(ws):
    cfg = write_config(ws / "configs" / "repro.yaml", timesteps=128, eval_freq=0, checkpoint_freq=0)
    runs = [train(config_path=cfg, workspace=ws, show_progress=False, evaluate=False, command="test") for _ in range(2)]
    from stable_baselines3 import PPO

    params = [PPO.load(str(r / "final_model.zip"), device="cpu").policy.state_dict() for r in runs]
    for key in params[0]:
        assert np.array_equal(params[0][key].numpy(), params[1][key].numpy()), key
    assert runs[0] != runs[1]  # two run folders even within one second


@pytest.mark.parametrize("algorithm,action_type,kwargs", [
    ("A2C", "continuous", {"n_steps": 8}),
    ("DQN", "discrete", {"learning_starts": 32, "buffer_size": 1000}),
    ("SAC", "absolute", {"learning_starts": 32, "buffer_size": 1000, "batch_size": 32}),
    ("TD3", "continuous", {"learning_starts": 32, "buffer_size": 1000, "batch_size": 32}),
])
def test_every_algorithm_trains(ws, algorithm, action_type, kwargs):
    cfg = write_config(ws / "configs" / f"{algorithm}.yaml", algorithm=algorithm.lower(), action_type=action_type,
                       algorithm_kwargs=kwargs, timesteps=96, n_envs=1, eval_freq=0, checkpoint_freq=0)
    run = train(config_path=cfg, workspace=ws, show_progress=False, evaluate=False, command="test")
    assert run.name.endswith(f"-{algorithm}")
    assert (run / "final_model.zip").is_file() and (run / "best_model.zip").is_file()


@pytest.mark.slow
def test_ctrl_c_saves_the_model_and_exits_cleanly(ws):
    cfg = write_config(ws / "configs" / "long.yaml", timesteps=5_000_000, eval_freq=0, checkpoint_freq=0)
    env = {**os.environ, "RLIMPRO_ROOT": str(ws)}
    proc = subprocess.Popen([sys.executable, "-m", "rlimpro.cli", "train", str(cfg)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # background jobs ignore it
    models = ws / "synths" / "sine" / "models"
    try:
        deadline = time.monotonic() + 120
        run_json = None
        while time.monotonic() < deadline and proc.poll() is None:
            found = list(models.glob("*/run.json")) if models.is_dir() else []
            if found and (found[0].parent / "tb" / "run_1").exists():
                run_json = found[0]
                break
            time.sleep(0.2)
        assert run_json is not None, "training did not start"
        time.sleep(1.0)  # let it learn a little
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted" in err and "final_model.zip" in err
    run = run_json.parent
    meta = json.loads(run_json.read_text())
    assert meta["status"] == "interrupted" and 0 < meta["steps"] < 5_000_000
    from stable_baselines3 import PPO

    model = PPO.load(str(run / "final_model.zip"), device="cpu")
    assert model.num_timesteps == meta["steps"]
    assert not list(run.glob(".*.tmp"))  # nothing half-written
    assert resolve_run("latest", synth="sine", workspace=ws) == run.resolve()


def test_config_reaches_the_algorithm(ws):
    from rlimpro.env.factory import prepare
    from rlimpro.train import _vec_env, build_model
    from tests.learning_data import config_dict

    cfg = TrainConfig(**config_dict(net_arch=[7, 5], n_envs=3, algorithm_kwargs={
        "n_steps": 32, "batch_size": 32, "gamma": 0.5, "policy_kwargs": {"log_std_init": -1.5}}, action_type="continuous"))
    setup = prepare(cfg, workspace=ws, source="test")
    model = build_model(setup, _vec_env(setup, n_envs=3, split="train", seed=0), seed=0)
    assert model.n_envs == 3 and model.gamma == 0.5 and model.n_steps == 32
    sizes = [m.out_features for m in model.policy.mlp_extractor.policy_net if hasattr(m, "out_features")]
    assert sizes == [7, 5]
    assert float(model.policy.log_std.detach()[0]) == pytest.approx(-1.5)
    assert model.observation_space.shape == (setup.feature_space.observation_size,)
