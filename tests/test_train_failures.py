"""Bad input to `rlimpro train`: each a one-line error naming the input, exit != 0, before any training,
nothing written."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rlimpro.cli import app
from tests.learning_data import CORPUS, tiny_workspace, write_config

runner = CliRunner()


@pytest.fixture
def ws(tmp_path_factory, tmp_path):
    return tiny_workspace(tmp_path_factory, tmp_path / "ws")


def run_train(ws, config, *extra):
    res = runner.invoke(app, ["--root", str(ws), "train", str(config), *extra])
    text = " ".join(res.output.split())
    return res, text


def assert_refused(ws, config, message, *extra):
    res, text = run_train(ws, config, *extra)
    assert res.exit_code != 0, text
    assert message in text, text
    assert "Traceback" not in text
    assert not (ws / "synths" / "sine" / "models").exists(), "a run folder was created for a refused config"
    return text


@pytest.mark.parametrize("overrides,message", [
    ({"learning_rte": 0.1}, "[learning_rte] unknown key"),
    ({"timesteps": "many"}, "[timesteps]"),
    ({"n_envs": 0}, "[n_envs]"),
    ({"step_size": 2.0}, "[step_size]"),
    ({"features": ["mfc", "centroid"]}, "did you mean 'mfcc'?"),
    ({"features_reward": ["centriod"]}, "did you mean 'centroid'?"),
    ({"features": []}, "the list of features is empty"),
    ({"reward_weights": {"pitch-hz": 2.0}, "features_reward": ["centroid"]}, "not among features_reward"),
    ({"reward_type": "cubical"}, "[reward_type]"),
    ({"training_mode": "random"}, "[training_mode]"),
    ({"algorithm": "PPO2"}, "did you mean 'PPO'?"),
    ({"algorithm": "DQN", "action_type": "continuous"}, "DQN does not support action_type 'continuous'"),
    ({"algorithm": "SAC", "action_type": "discrete"}, "SAC does not support action_type 'discrete'"),
    ({"algorithm": "td3", "action_type": "discrete"}, "TD3 does not support action_type 'discrete'"),
    ({"held_out_files": ["c-high"], "held_out_fraction": 0.5}, "not both"),
    ({"training_mode": "static_random", "max_episode_steps": None}, "needs max_episode_steps"),
])
def test_schema_errors_name_the_key_and_the_file(ws, overrides, message):
    cfg = write_config(ws / "configs" / "bad.yaml", **overrides)
    text = assert_refused(ws, cfg, message)
    assert "bad.yaml" in text


def test_algorithm_kwargs_are_checked_against_sb3(ws):
    cfg = write_config(ws / "configs" / "bad.yaml", algorithm_kwargs={"n_step": 64})
    assert_refused(ws, cfg, "did you mean 'n_steps'?")
    cfg = write_config(ws / "configs" / "bad.yaml", algorithm_kwargs={"seed": 3})
    assert_refused(ws, cfg, "is set by rlimpro")
    cfg = write_config(ws / "configs" / "bad.yaml", algorithm_kwargs={"n_steps": 64, "batch_size": 64, "learning_rate": "fast"})
    assert_refused(ws, cfg, "refused the settings")


def test_missing_lookup_names_the_command_that_makes_it(ws):
    (ws / "synths" / "sine" / "lookup.csv").unlink()
    cfg = write_config(ws / "configs" / "t.yaml")
    assert_refused(ws, cfg, "create it with `rlimpro lookup --synth sine --subdiv 6`")


def test_lookup_of_another_grid(ws):
    cfg = write_config(ws / "configs" / "t.yaml", lookup={"subdiv": 12})
    assert_refused(ws, cfg, "[lookup.subdiv] is 12 but")


def test_unknown_synth_suggests(ws):
    cfg = write_config(ws / "configs" / "t.yaml", synth="sin")
    assert_refused(ws, cfg, "did you mean 'sine'?")


def test_missing_corpus_names_the_command(ws):
    cfg = write_config(ws / "configs" / "t.yaml", corpus="other")
    assert_refused(ws, cfg, "corpus 'other' not found")
    (ws / "corpora" / "other" / "audio").mkdir(parents=True)
    assert_refused(ws, cfg, "rlimpro analyze-corpus --corpus other")


def test_corpus_analyzed_with_other_settings(ws):
    from rlimpro.corpus import analyze_corpus

    analyze_corpus(corpus=CORPUS, workspace=ws, smooth=3, workers=1, force=True, show_progress=False)
    cfg = write_config(ws / "configs" / "t.yaml")
    text = assert_refused(ws, cfg, "analysis settings differ")
    assert "smooth: 1 in" in text and "vs 3 in" in text and "lookup.csv" in text and "analysis.json" in text


def test_held_out_file_that_does_not_exist(ws):
    cfg = write_config(ws / "configs" / "t.yaml", held_out_files=["c-hihg"])
    assert_refused(ws, cfg, "did you mean 'c-high'?")
    cfg = write_config(ws / "configs" / "t.yaml", held_out_files=["a-low", "b-mid", "c-high"])
    assert_refused(ws, cfg, "holds out every file")


def test_config_file_problems(ws):
    assert_refused(ws, ws / "configs" / "missing.yaml", "does not exist")
    bad = ws / "configs" / "broken.yaml"
    bad.write_text("synth: sine\n  corpus: [unclosed\n")
    assert_refused(ws, bad, "not valid YAML")
    bad.write_text("- just\n- a list\n")
    assert_refused(ws, bad, "expected a mapping")
    cfg = write_config(ws / "configs" / "t.yaml")
    assert_refused(ws, cfg, "--timesteps", "--timesteps", "0")
