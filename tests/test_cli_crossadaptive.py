"""The cross-adaptive task through the CLI: train, evaluate and live on a temp workspace (CliRunner, real runs)."""

from __future__ import annotations

import json
import shutil

import soundfile as sf
from typer.testing import CliRunner

from rlimpro.cli import app

from .crossadaptive_support import HELD_OUT, trained_run, write_config

runner = CliRunner()


def test_train_prints_the_held_out_evaluation(tmp_path):
    config = write_config(tmp_path / "configs" / "xa.yaml")
    res = runner.invoke(app, ["--root", str(tmp_path), "train", str(config), "--timesteps", "256", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert "trained 256 steps" in res.output and "agent/dry" in res.output and HELD_OUT in res.output
    assert "next: rlimpro live --task cross-adaptive" in res.output
    run = next((tmp_path / "crossadaptive" / "models").iterdir())
    assert (run / "command.txt").read_text().split()[-4:] == ["--timesteps", "256", "--seed", "3"]
    assert json.loads((run / "run.json").read_text())["seed"] == 3


def test_a_bad_config_names_the_key_and_creates_nothing(tmp_path):
    config = write_config(tmp_path / "xa.yaml", "task: cross-adaptive\neffects: [lowpass, reverb]\n")
    res = runner.invoke(app, ["--root", str(tmp_path), "train", str(config)])
    assert res.exit_code == 1
    assert "xa.yaml: [effects] " in res.output and "unknown effect 'reverb'" in res.output
    assert not (tmp_path / "crossadaptive").exists()


def test_evaluate_by_task_or_by_path(tmp_path_factory, tmp_path):
    ws, run = trained_run(tmp_path_factory)
    copy = shutil.copytree(ws, tmp_path / "ws")  # evaluation.json of the shared run stays as it is
    res = runner.invoke(app, ["--root", str(copy), "evaluate", "latest", "--task", "cross-adaptive"])
    assert res.exit_code == 0, res.output
    assert "agent/dry" in res.output and HELD_OUT in res.output and "evaluation.json" in res.output
    path = copy / "crossadaptive" / "models" / run.name
    res = runner.invoke(app, ["--root", str(copy), "evaluate", str(path), "--files", "00-noise-beat,01-noise-swell"])
    assert res.exit_code == 0, res.output
    assert json.loads((path / "evaluation.json").read_text())["pairs_evaluated"] == ["00-noise-beat", "01-noise-swell"]
    for args, message in (
        (["--synth", "fm"], "--synth does not apply to a cross-adaptive run"),
        (["--files", "00-noise-bet"], "did you mean '00-noise-beat'"),
    ):
        res = runner.invoke(app, ["--root", str(copy), "evaluate", "latest", "--task", "cross-adaptive", *args])
        assert res.exit_code == 1 and message in res.output, res.output
    res = runner.invoke(app, ["--root", str(copy), "evaluate", "latest", "--task", "crossadaptive"])
    assert res.exit_code == 1 and "--task crossadaptive: evaluate takes --task cross-adaptive" in res.output


def test_live_rehearsal_with_two_files(tmp_path_factory, tmp_path):
    ws, run = trained_run(tmp_path_factory)
    pair = run / "evaluation" / HELD_OUT
    out = tmp_path / "processed.wav"
    res = runner.invoke(app, ["--root", str(ws), "live", "--task", "cross-adaptive", "--model", "latest",
                              "--input", str(pair / "source.wav"), "--target", str(pair / "target.wav"),
                              "--output", str(out), "--fast", "--log", str(tmp_path / "s.csv")])
    assert res.exit_code == 0, res.output
    assert f"wrote {out}" in res.output and "paired by time" in res.output and "latency" in res.output
    assert sf.info(str(out)).frames == sf.info(str(pair / "target.wav")).frames


def test_live_options_that_do_not_fit(tmp_path_factory, tmp_path):
    ws, _ = trained_run(tmp_path_factory)
    cases = (
        (["--task", "cross-adaptive", "--synth", "fm", "--input", "a.wav", "--target", "b.wav"], "--synth does not apply"),
        (["--target", "b.wav", "--synth", "fm"], "--target and --channels belong to --task cross-adaptive"),
        (["--input", "a.wav"], "--synth is required"),
        (["--task", "cross-adaptive", "--input", str(tmp_path / "a.wav"), "--output", str(tmp_path / "o.wav"), "--fast"],
         "give the musician to follow with --target"),
    )
    for args, message in cases:
        res = runner.invoke(app, ["--root", str(ws), "live", *args])
        assert res.exit_code == 1 and message in res.output, (args, res.output)
