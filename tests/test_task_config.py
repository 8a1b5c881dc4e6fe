"""Training configs of the sound tasks: the `task` field, its sections, and bad input refused before training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from rlimpro.errors import AudioError, ConfigError, NotFoundError, ParameterError
from rlimpro.tasks.settings import MatchSettings, SequenceSettings
from rlimpro.tasks.setup import prepare_task
from rlimpro.train_config import TrainConfig, load_config

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
SMALL = {"stats_sounds": 8, "sample_rate": 16000, "window": 512, "hop": 256}


def cfg(task: str, **section) -> TrainConfig:
    body = {**SMALL, "eval_targets": {"synth": 2}, **section}
    return TrainConfig(synth="fm", task=task, features=["pitch", "centroid"], **{task: body})


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("name", ["match-fm.yaml", "sequence.yaml"])
def test_shipped_configs_validate(name):
    config = load_config(CONFIGS / name)
    assert config.task in ("match", "sequence") and config.corpus is None
    section = getattr(config, config.task)
    assert isinstance(section, MatchSettings if config.task == "match" else SequenceSettings)


def test_imitate_stays_the_default_and_needs_a_corpus():
    assert TrainConfig(synth="fm", corpus="demo").task == "imitate"
    with pytest.raises(Exception, match="task imitate needs a corpus"):
        TrainConfig(synth="fm")


def test_a_task_without_its_section_gets_the_defaults():
    config = TrainConfig(synth="fm", task="sequence")
    assert config.sequence == SequenceSettings() and config.match is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"task": "match", "sequence": {}}, "[sequence] is the section of task sequence, but task is match"),
        ({"task": "match", "corpus": "demo"}, "[corpus] is read by task imitate only"),
        ({"task": "sequence", "training_mode": "static_random"}, "[training_mode] is read by task imitate only"),
        ({"task": "match", "match": {"duration": 0}}, "[match.duration] Input should be greater than 0"),
        ({"task": "match", "match": {"actions": {"index": {"type": "exp", "min": 0, "max": 8}}}}, "exp range needs min and max of the same sign"),
        ({"task": "match", "match": {"distanse": "spectral"}}, "[match.distanse] unknown key"),
        ({"task": "sequence", "sequence": {"eval_targets": {"synth": 0}}}, "no held-out targets"),
        ({"task": "match", "match": {"window": 1000}}, "window 1000 must be a power of two"),
        ({"task": "fly"}, "[task] Input should be 'imitate', 'match' or 'sequence'"),
    ],
)
def test_bad_sections_are_config_errors_naming_the_key_and_file(tmp_path, data, message):
    path = write(tmp_path, {"synth": "fm", **data})
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value).startswith(str(path)) and message in str(exc.value)


def test_rel_of_a_later_or_missing_parameter_is_refused_before_training(tmp_path):
    with pytest.raises(ConfigError, match=r"\[match.actions\]: \[carrier\] rel of 'index': a rel parameter can only derive from an earlier"):
        prepare_task(cfg("match", actions={"carrier": {"type": "rel", "of": "index"}}), workspace=tmp_path, source="c.yaml")
    with pytest.raises(ConfigError, match=r"\[index\] rel of 'volume': no such parameter"):
        prepare_task(cfg("sequence", actions={"index": {"type": "rel", "of": "volume"}}), workspace=tmp_path, source="c.yaml")


def test_target_shorter_than_one_step_is_refused_before_training(tmp_path):
    folder = tmp_path / "corpora" / "mine" / "audio"
    folder.mkdir(parents=True)
    sf.write(folder / "blip.wav", np.zeros(1600), 16000)  # 0.1 s
    config = cfg("sequence", step_seconds=0.25, eval_targets={"synth": 1, "files": [{"corpus": "mine", "file": "blip"}]})
    with pytest.raises(ParameterError, match=r"c.yaml: \[sequence.eval_targets.files.0\] target file .*blip.wav holds 0.100 s from start 0 s, shorter than one step"):
        prepare_task(config, workspace=tmp_path, source="c.yaml")
    config = cfg("match", duration=0.25, train_targets={"files": [{"corpus": "mine", "file": "blip"}]})
    with pytest.raises(ParameterError, match=r"\[match.train_targets.files.0\] .* needs 0.25 s"):
        prepare_task(config, workspace=tmp_path, source="c.yaml")
    with pytest.raises(NotFoundError, match=r"\[match.eval_targets.files.0\] target 'blp' is not a file of corpus 'mine'.*did you mean 'blip'"):
        prepare_task(cfg("match", eval_targets={"files": [{"corpus": "mine", "file": "blp"}]}), workspace=tmp_path, source="c.yaml")
    (folder / "junk.wav").write_bytes(b"junk")
    with pytest.raises(AudioError, match="junk.wav"):
        prepare_task(cfg("match", eval_targets={"files": [{"corpus": "mine", "file": "junk"}]}), workspace=tmp_path, source="c.yaml")


def test_sounds_shorter_than_the_analysis_window_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"\[match.duration\] 0.01 s is 160 samples, shorter than the analysis window \(512\)"):
        prepare_task(cfg("match", duration=0.01), workspace=tmp_path, source="c.yaml")


@pytest.mark.parametrize(("algorithm", "specs", "message"), [
    ("DQN", {}, "DQN cannot act here: the actions are continuous"),
    ("SAC", {"carrier": {"type": "choice", "values": [110, 220]}, "harmonicity": {"type": "choice", "values": [1, 2]},
             "index": {"type": "fixed", "value": 1}}, "SAC cannot act here: every control is a choice"),
])
def test_algorithms_that_do_not_fit_the_action_space_are_refused(tmp_path, algorithm, specs, message):
    config = cfg("match", actions=specs).model_copy(update={"algorithm": algorithm})
    with pytest.raises(ConfigError, match=message):
        prepare_task(config, workspace=tmp_path, source="c.yaml")


def test_prepare_task_builds_held_out_targets_from_their_own_seed(tmp_path):
    a = prepare_task(cfg("match"), workspace=tmp_path)
    b = prepare_task(cfg("match"), workspace=tmp_path)
    assert a.held_out_files == ["synth-00", "synth-01"] and a.train_files == []
    np.testing.assert_allclose(a.eval_targets[1].audio, b.eval_targets[1].audio)
    c = prepare_task(cfg("match", eval_targets={"synth": 2, "seed": 5}), workspace=tmp_path)
    assert not np.allclose(a.eval_targets[0].params, c.eval_targets[0].params)
    assert a.renders_per_episode == 21 and a.policy() == "MlpPolicy"
    s = prepare_task(cfg("sequence", observation="spectrogram", total_steps=3), workspace=tmp_path)
    assert s.renders_per_episode == 3 and s.policy() == "CnnPolicy" and "features_extractor_class" in s.policy_kwargs()


def test_gymnasium_make_builds_both_tasks(tmp_path):
    import gymnasium

    import rlimpro.tasks  # noqa: F401  (registers the ids)

    env = gymnasium.make("rlimpro/Match-v0", workspace=tmp_path, synth="fm", match={**SMALL, "max_steps": 3})
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    env = gymnasium.make("rlimpro/Sequence-v0", workspace=tmp_path, synth="fm", sequence={**SMALL, "total_steps": 2})
    obs, _ = env.reset(seed=0)
    for _ in range(2):
        obs, _, terminated, _, _ = env.step(env.action_space.sample())
    assert terminated
    with pytest.raises(ConfigError, match="rlimpro/Match-v0 needs task: match"):
        gymnasium.make("rlimpro/Match-v0", config=str(CONFIGS / "sequence.yaml"), workspace=tmp_path)
