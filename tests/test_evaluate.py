"""The evaluate stage: the four players, per-file and overall figures, the plot, trajectories, --log."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from rlimpro.cli import app
from rlimpro.descriptors.registry import DESCRIPTORS
from rlimpro.errors import MismatchError
from rlimpro.evaluate import evaluate_run, log_columns, score_log
from rlimpro.runs import load_feature_space, load_synth_model
from rlimpro.train import train
from tests.learning_data import CORPUS, FILES, HELD_OUT, tiny_workspace, write_config

runner = CliRunner()
_RUN: dict = {}


@pytest.fixture
def trained(tmp_path_factory, tmp_path):
    """A workspace with one trained (not yet evaluated) run; training happens once per session."""
    if "ws" not in _RUN:
        ws = tiny_workspace(tmp_path_factory, tmp_path_factory.mktemp("eval-ws"))
        cfg = write_config(ws / "configs" / "eval.yaml", timesteps=512, eval_freq=0, checkpoint_freq=0)
        _RUN["ws"] = ws
        _RUN["run"] = train(config_path=cfg, workspace=ws, show_progress=False, evaluate=False, command="test")
    ws = tmp_path / "ws"
    shutil.copytree(_RUN["ws"], ws)
    return ws, ws / _RUN["run"].relative_to(_RUN["ws"])


def test_evaluate_writes_json_plot_and_trajectories(trained):
    ws, run = trained
    result = evaluate_run(run, workspace=ws, show_progress=False)
    saved = json.loads((run / "evaluation.json").read_text())
    assert saved["rmse"] == pytest.approx(result["rmse"])
    players = {"agent", "random", "fixed", "floor", "follower", "follower_smooth"}
    assert set(saved["rmse"]) == players and set(saved["rendered"]["rmse"]) == players
    assert set(saved["ratios"]) >= {"agent_over_follower", "agent_over_fixed", "agent_over_floor", "agent_over_random"}
    assert saved["rendered"]["method"] == "continuous"  # a native synth is always rendered
    assert saved["files_evaluated"] == HELD_OUT and list(saved["files"]) == HELD_OUT
    r = saved["rmse"]
    assert saved["ratios"]["agent_over_follower"] == pytest.approx(r["agent"] / r["follower"])
    assert saved["rendered"]["ratios"]["agent_over_follower"] == pytest.approx(
        saved["rendered"]["rmse"]["agent"] / saved["rendered"]["rmse"]["follower"])
    # nearest interpolation: every player sits on grid rows, so nobody beats the per-frame best row
    assert all(r["floor"] <= r[p] + 1e-9 for p in players)
    # the follower is the nearest row (a KD-tree): on the lookup model it scores the floor
    assert r["follower"] == pytest.approx(r["floor"], rel=1e-9)
    # units per reward descriptor and player, in the descriptor's musical unit
    feats = saved["features_reward"]
    assert set(saved["units"]["agent"]) == set(feats) and saved["units_of"]["pitch-hz"] == "semitones"
    assert saved["units_of"]["loudness-dBFS"] == "dB"
    assert saved["movement"]["fixed"] == 0.0 and saved["movement"]["random"] > 0
    assert saved["movement"]["follower_smooth"] <= saved["movement"]["follower"] + 1e-12
    assert saved["headline"]["measured_on"] == "rendered"
    assert saved["headline"]["agent_over_follower"] == saved["rendered"]["ratios"]["agent_over_follower"]
    assert saved["headline"]["pitch_error_semitones"] == saved["rendered"]["units"]["agent"]["pitch-hz"]
    assert (run / "evaluation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    stem = HELD_OUT[0]
    traj = pd.read_csv(run / "trajectories" / f"{stem}.csv")
    assert list(traj.columns) == log_columns(2)
    assert len(traj) == saved["files"][stem]["frames"]
    side = json.loads((run / "trajectories" / f"{stem}.json").read_text())
    assert side["run"] == str(run) and side["run_id"] == run.name and side["file"] == stem
    # targets are the corpus's active frames, raw
    table = pd.read_csv(ws / "corpora" / CORPUS / "features" / f"{stem}.csv")
    active = table[table["active"] > 0]
    assert_allclose(traj["time"], active["time"], atol=1e-9)
    assert_allclose(traj[[f"target:{d}" for d in DESCRIPTORS]].to_numpy(), active[list(DESCRIPTORS)].to_numpy(), rtol=1e-7)
    # agent descriptors are the synth model at the logged parameters
    grid = load_synth_model(run)
    params = traj[["param-0", "param-1"]].to_numpy()
    assert_allclose(traj[[f"agent:{d}" for d in DESCRIPTORS]].to_numpy(), grid.batch(params), rtol=1e-7, atol=1e-9)


def test_rendered_figures_are_the_synths_sound(trained):
    """The rendered block scores the trajectory played by the real synth: the fixed player's rendered
    descriptors are the steady sound of its row, so its rendered pitch error equals the lookup's."""
    ws, run = trained
    result = evaluate_run(run, workspace=ws, show_progress=False, plot=False)
    model, rendered = result, result["rendered"]
    assert model["units"]["fixed"]["pitch-hz"] == pytest.approx(rendered["units"]["fixed"]["pitch-hz"], abs=0.05)
    # the movement is the trajectory's, the same on both
    assert rendered["movement"] == model["movement"]
    off = evaluate_run(run, workspace=ws, show_progress=False, plot=False, render=False)
    assert "rendered" not in off and off["headline"]["measured_on"] == "lookup model"


def test_score_log_agrees_with_evaluate(trained):
    ws, run = trained
    result = evaluate_run(run, workspace=ws, show_progress=False, plot=False)
    stem = HELD_OUT[0]
    scored = score_log(run, run / "trajectories" / f"{stem}.csv")
    assert scored["frames_scored"] == scored["frames"] == result["files"][stem]["frames"]
    assert scored["rmse"]["agent"] == pytest.approx(result["files"][stem]["rmse"]["agent"], rel=1e-6)
    assert scored["rmse"]["floor"] == pytest.approx(result["files"][stem]["rmse"]["floor"], rel=1e-6)
    # a log with silent frames: those are left out
    traj = pd.read_csv(run / "trajectories" / f"{stem}.csv")
    silent = traj.iloc[:3].copy()
    silent["target:loudness-dBFS"] = -120.0
    silent["time"] = traj["time"].iloc[-1] + 0.01 * np.arange(1, 4)  # after the others: time never runs backwards
    path = ws / "session.csv"
    pd.concat([traj, silent]).to_csv(path, index=False)
    again = score_log(run, path)
    assert again["frames"] == len(traj) + 3 and again["frames_scored"] == len(traj)
    assert again["rmse"]["agent"] == pytest.approx(scored["rmse"]["agent"], rel=1e-9)


def test_other_files_and_corpus_and_cli(trained):
    ws, run = trained
    res = runner.invoke(app, ["--root", str(ws), "evaluate", "latest", "--synth", "sine", "--files", "a-low,b-mid"])
    assert res.exit_code == 0, res.output
    saved = json.loads((run / "evaluation.json").read_text())
    assert saved["files_evaluated"] == ["a-low", "b-mid"]
    assert "a-low, b-mid were used in training" in " ".join(res.output.split())
    assert "follower" in res.output and "move/hop" in res.output and "per file" in res.output
    res = runner.invoke(app, ["--root", str(ws), "evaluate", str(run), "--corpus", CORPUS])
    assert res.exit_code == 0, res.output  # the run's corpus by name: its held-out files
    assert json.loads((run / "evaluation.json").read_text())["files_evaluated"] == HELD_OUT
    res = runner.invoke(app, ["--root", str(ws), "evaluate", run.name, "--synth", "sine", "--log", str(run / "trajectories" / "c-high.csv")])
    assert res.exit_code == 0, res.output
    assert "frames scored" in res.output and "distance agent" in res.output


# ---------------------------------------------------------------- bad input
def test_bad_inputs(trained):
    ws, run = trained
    cases = [
        (["evaluate", "latest"], "give --synth"),
        (["evaluate", "latest", "--synth", "fm"], "no trained runs"),
        (["evaluate", "20990101-000000-PPO", "--synth", "sine"], f"runs: {run.name}"),
        (["evaluate", str(run), "--files", "c-hgh"], "did you mean 'c-high'"),
        (["evaluate", str(run), "--corpus", "nope"], "corpus 'nope' not found"),
        (["evaluate", str(run), "--log", str(ws / "missing.csv")], "does not exist"),
        (["evaluate", str(run), "--log", str(ws / "configs" / "eval.yaml"), "--files", "a-low"], "does not take --corpus or --files"),
    ]
    for args, message in cases:
        res = runner.invoke(app, ["--root", str(ws), *args])
        assert res.exit_code != 0, args
        assert message in " ".join(res.output.split()), (args, res.output)
    bad = ws / "bad.csv"
    bad.write_text("time,param-0,param-1\n0,0.5,0.5\n")
    with pytest.raises(MismatchError, match="not a session log"):
        score_log(run, bad)
    traj = pd.read_csv(ws / "corpora" / CORPUS / "features" / f"{FILES[0]}.csv")
    three = pd.DataFrame(np.zeros((2, len(log_columns(3)))), columns=log_columns(3))
    three["time"] = [0.0, 0.01]
    three.to_csv(bad, index=False)
    with pytest.raises(MismatchError, match="3 parameters"):
        score_log(run, bad)
    assert len(traj) > 0
    assert load_feature_space(run).n_params == 2


def test_the_render_flag_on_a_native_synth(trained):
    """--render is the switch for Pure Data and SuperCollider synths; a native synth is always rendered."""
    ws, run = trained
    res = runner.invoke(app, ["--root", str(ws), "evaluate", str(run), "--render"])
    assert res.exit_code == 0 and "rendered" in res.output, res.output
    assert json.loads((run / "evaluation.json").read_text())["rendered"]["method"] == "continuous"
