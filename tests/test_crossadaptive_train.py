"""Cross-adaptive training: a real tiny run, its folder, and the errors raised before anything is created."""

from __future__ import annotations

import json

import pytest
import yaml

from rlimpro.crossadaptive.runs import models_dir
from rlimpro.crossadaptive.train import train_cross_adaptive
from rlimpro.errors import ConfigError, MismatchError, NotFoundError, ParameterError

from .crossadaptive_support import CONFIG, HELD_OUT, trained_run, write_config


def test_a_tiny_run_has_everything_live_and_evaluate_need(tmp_path_factory):
    ws, run = trained_run(tmp_path_factory)
    assert run.parent == models_dir(workspace=ws) and run.name.endswith("-PPO")
    for name in ("final_model.zip", "best_model.zip", "config.yaml", "command.txt", "feature_space.json", "run.json",
                 "evaluation.json", "evaluation.png"):
        assert (run / name).is_file(), name
    assert list((run / "checkpoints").glob("model_*_steps.zip")) and any((run / "tb").iterdir())
    info = json.loads((run / "run.json").read_text())
    assert info["task"] == "cross-adaptive" and info["status"] == "trained" and info["steps"] >= 1024
    assert info["param_names"] == ["lowpass.cutoff", "lowpass.resonance", "gain.level"]
    assert info["train_pairs"] == ["00-noise-beat", "01-noise-swell"] and info["held_out_pairs"] == [HELD_OUT]
    assert info["analysis"]["sample_rate"] == 22050 and info["analysis"]["hop"] == 256
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["task"] == "cross-adaptive" and cfg["effects"] == ["lowpass", {"type": "gain", "min_db": -24, "max_db": 6}] and cfg["timesteps"] == 1024
    ev = json.loads((run / "evaluation.json").read_text())
    assert ev["pairs_evaluated"] == [HELD_OUT] and set(ev["rmse"]) == {"agent", "random", "dry"}
    assert (run / "command.txt").read_text().strip() == "pytest"


def test_timesteps_and_seed_override_and_the_shipped_config_validates(tmp_path):
    from pathlib import Path

    from rlimpro.crossadaptive.config import load_cross_config

    shipped = load_cross_config(Path(__file__).resolve().parents[1] / "configs" / "cross-adaptive.yaml")
    assert shipped.material.kind == "generated" and shipped.effects == ["lowpass", "distortion", "gain"]
    config = write_config(tmp_path / "xa.yaml")
    run = train_cross_adaptive(config_path=config, workspace=tmp_path, timesteps=256, seed=7, show_progress=False,
                               evaluate=False)
    info = json.loads((run / "run.json").read_text())
    assert info["timesteps"] == 256 and info["seed"] == 7 and not (run / "evaluation.json").exists()


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"effects": ["lowpass", "gian"]}, ConfigError, r"\[effects\].*unknown effect 'gian'; did you mean 'gain'"),
        ({"algorithm": "SAC", "action_type": "discrete"}, ConfigError, "does not support action_type 'discrete'"),
        ({"algorithm_kwargs": {"n_step": 64}}, ConfigError, r"\[algorithm_kwargs.n_step\] PPO has no argument 'n_step'; did you mean 'n_steps'"),
        ({"material": {"kind": "corpora", "source_corpus": "vox", "target_corpus": "drums"}}, NotFoundError,
         r"\[material.source_corpus\] corpus 'vox' not found"),
        ({"lookup": {"subdiv": 3}}, ConfigError, r"\[lookup\] unknown key"),
    ],
)
def test_bad_configs_fail_before_anything_is_created(tmp_path, change, error, match):
    cfg = yaml.safe_load(CONFIG)
    cfg.update(change)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(error, match=match):
        train_cross_adaptive(config_path=path, workspace=tmp_path, show_progress=False)
    assert not (tmp_path / "crossadaptive").exists()
    with pytest.raises(ParameterError, match="--timesteps 0"):
        train_cross_adaptive(config_path=path, workspace=tmp_path, timesteps=0, show_progress=False)


def test_corpus_material_pairs_files_and_refuses_a_short_source(tmp_path):
    import soundfile as sf

    from rlimpro.crossadaptive.config import load_cross_config
    from rlimpro.crossadaptive.material import generate
    from rlimpro.crossadaptive.setup import load_material

    for corpus, kind, names, secs in (("vox", "drone", ["a", "b"], [1.0, 0.5]), ("drums", "beat", ["x", "y"], [0.8, 0.8])):
        folder = tmp_path / "corpora" / corpus / "audio"
        folder.mkdir(parents=True)
        for name, s in zip(names, secs, strict=True):
            sf.write(folder / f"{name}.wav", generate(kind, seed=1, duration=s, sample_rate=16000), 16000)
    cfg = yaml.safe_load(CONFIG)
    cfg["material"] = {"kind": "corpora", "source_corpus": "vox", "target_corpus": "drums", "pairs": [["a", "y"]]}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    pairs, held, _ = load_material(load_cross_config(path), workspace=tmp_path, source="c.yaml")
    assert [p.name for p in pairs] == ["a+y"] and held == [] and pairs[0].sample_rate == 22050
    assert pairs[0].source.size == pairs[0].target.size == int(0.8 * 22050)
    cfg["material"] = {"kind": "corpora", "source_corpus": "vox", "target_corpus": "drums"}  # a+x, b+y: b is 0.5 s
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(MismatchError, match=r"source .*b.wav \(0.500 s\) is shorter than target .*y.wav \(0.800 s\)"):
        load_material(load_cross_config(path), workspace=tmp_path, source="c.yaml")
    cfg["material"] = {"kind": "corpora", "source_corpus": "vox", "target_corpus": "drums", "pairs": [["a", "z"]]}
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match=r"\[material.pairs.0\] 'z' is not a file of corpus 'drums'"):
        load_material(load_cross_config(path), workspace=tmp_path, source="c.yaml")


def test_the_train_api_dispatches_on_the_task_key(tmp_path):
    from rlimpro.train import train

    config = write_config(tmp_path / "xa.yaml")
    run = train(config_path=config, workspace=tmp_path, timesteps=128, show_progress=False, evaluate=False)
    assert run.parent == models_dir(workspace=tmp_path)
    assert json.loads((run / "run.json").read_text())["task"] == "cross-adaptive"
