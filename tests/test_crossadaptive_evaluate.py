"""Evaluation on held-out pairs: agent beside dry and random, audio and trajectories written, bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf
import yaml
from numpy.testing import assert_allclose

from rlimpro.crossadaptive.evaluate import evaluate_cross_run, summary_lines
from rlimpro.crossadaptive.log import read_log
from rlimpro.crossadaptive.material import generated_pairs
from rlimpro.crossadaptive.paired import shared_analyzer
from rlimpro.crossadaptive.runs import load_run_config, load_run_features
from rlimpro.errors import MismatchError, ParameterError

from .crossadaptive_support import HELD_OUT, trained_run


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return trained_run(tmp_path_factory)


def test_evaluation_is_reproducible_and_scores_dry_independently(trained):
    ws, run = trained
    first = json.loads((run / "evaluation.json").read_text())
    again = evaluate_cross_run(run, workspace=ws, show_progress=False)
    assert again["rmse"] == first["rmse"] and again["pairs_evaluated"] == [HELD_OUT]
    assert again["ratios"]["agent_over_dry"] == pytest.approx(again["rmse"]["agent"] / again["rmse"]["dry"])
    # the dry figure: the regenerated held-out pair analyzed here, distance to its target in the run's z space
    config = load_run_config(run)
    m = config.material
    pair = generated_pairs(sources=m.sources, targets=m.targets, pairs=m.pairs, duration=m.duration, seed=m.seed,
                           sample_rate=22050)[-1]
    an = shared_analyzer(config.analysis_settings())
    feats = load_run_features(run, n_params=3)
    assert again["rmse"]["dry"] == pytest.approx(float(np.mean(feats.distance(an.analyze(pair.source), an.analyze(pair.target)))))
    lines = summary_lines(again)
    assert lines[-1].startswith("all") and HELD_OUT in lines[1]


def test_audio_and_trajectory_of_each_pair(trained):
    ws, run = trained
    folder = run / "evaluation" / HELD_OUT
    src, sr = sf.read(folder / "source.wav")
    tgt, _ = sf.read(folder / "target.wav")
    out, _ = sf.read(folder / "processed.wav")
    assert sr == 22050 and src.size == tgt.size == out.size == 22050
    assert np.abs(out - src).max() > 0.01  # the effects did something
    log, meta = read_log(folder / "trajectory.csv")
    n = len(log)
    assert n == -(-22050 // 256) and meta["pair"] == HELD_OUT and meta["param_names"][0] == "lowpass.cutoff"
    assert_allclose(log["frame"], np.arange(n)) and assert_allclose(log["time"], np.arange(n) * 256 / 22050, atol=1e-9)
    # the processed frames of the trajectory are those of processed.wav (written as 32-bit float)
    proc = shared_analyzer(load_run_config(run).analysis_settings()).analyze(out)
    # (the last frame also holds the effect tail over the zero-padded end of the last hop, which the file leaves out)
    assert_allclose(log["processed:loudness-dBFS"][: n - 1], proc[: n - 1, 0], atol=1e-3, rtol=0)


def test_named_pairs_and_unknown_ones(trained, tmp_path):
    ws, run = trained
    run = shutil.copytree(run, tmp_path / run.name)  # evaluation.json of the shared run stays the held-out one
    res = evaluate_cross_run(run, workspace=ws, pairs=["00-noise-beat"], show_progress=False, write_audio=False, plot=False)
    assert res["pairs_evaluated"] == ["00-noise-beat"]
    with pytest.raises(ParameterError, match="pair '00-noise-beet' is not in the run's material; did you mean '00-noise-beat'"):
        evaluate_cross_run(run, workspace=ws, pairs=["00-noise-beet"], show_progress=False)


def test_a_chain_that_does_not_fit_the_model_is_refused(trained, tmp_path):
    ws, run = trained
    copy = tmp_path / run.name
    shutil.copytree(run, copy)
    cfg = yaml.safe_load((copy / "config.yaml").read_text())
    cfg["effects"] = ["lowpass", "gain", "delay"]
    (copy / "config.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(MismatchError, match="feature space has 3 effect parameters, its effect chain 6"):
        evaluate_cross_run(copy, workspace=ws, show_progress=False)
    # a feature space edited to the new chain: now the model itself does not fit
    fs = json.loads((copy / "feature_space.json").read_text())
    fs["n_params"] = 6
    (copy / "feature_space.json").write_text(json.dumps(fs))
    with pytest.raises(MismatchError, match=r"the model sets 3 effect parameters, the effect chain has 6 \(lowpass.cutoff"):
        evaluate_cross_run(copy, workspace=ws, show_progress=False)
