"""``rlimpro/CrossAdaptive-v0``: API conformance, time-index pairing, the reward, seeding, bad input."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from numpy.testing import assert_allclose

import rlimpro.crossadaptive  # noqa: F401  (registers the id)
from rlimpro.config import validate
from rlimpro.crossadaptive import ENV_ID
from rlimpro.crossadaptive.config import CrossAdaptiveConfig
from rlimpro.crossadaptive.env import CrossAdaptiveEnv
from rlimpro.crossadaptive.features import CrossFeatures
from rlimpro.crossadaptive.paired import shared_analyzer
from rlimpro.crossadaptive.setup import prepare
from rlimpro.effects import EffectChain
from rlimpro.env.features import FeatureSpace
from rlimpro.errors import ConfigError, MismatchError, ParameterError

SMALL = {"kind": "generated", "pairs": 3, "held_out": 1, "duration": 1.0}


def make_setup(**overrides):
    cfg = {"task": "cross-adaptive", "material": SMALL, "features": ["loudness", "specshape"],
           "features_reward": ["loudness-dBFS", "centroid", "flatness"], "analysis": {"sample_rate": 22050, "window": 512, "hop": 256}}
    cfg.update(overrides)
    return prepare(validate(CrossAdaptiveConfig, cfg, source="test"), workspace=".", source="test")


@pytest.fixture(scope="module")
def setup():
    return make_setup()


@pytest.mark.parametrize("action_type", ["absolute", "continuous", "discrete"])
def test_check_env_without_warnings(action_type):
    algo = "DQN" if action_type == "discrete" else "PPO"
    env = gymnasium.make(ENV_ID, material=SMALL, effects=["bandpass", "gain"], action_type=action_type, algorithm=algo,
                         analysis={"sample_rate": 22050, "window": 512, "hop": 256})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []
    space = env.unwrapped.observation_space
    from rlimpro.descriptors.registry import GROUPS

    f = len(GROUPS["loudness"] + GROUPS["specshape"] + GROUPS["mfcc"])
    assert space.dtype == np.float32 and space.shape == (3 * f + 3,)  # loudness, specshape, mfcc x 3 streams + 3 params


def test_observation_and_reward_pair_frames_by_time_index(setup):
    """Step t at frame i: obs holds dry i, processed i-1, target i; the reward compares processed i with target i.

    The processed frames are checked against an independent offline rendering of the same parameters
    (effect chain over the whole source, batch analyzer).
    """
    env = setup.make_env(split="eval")
    name = setup.held_out_pairs[0]
    ap = setup.pairs[name]
    fs = setup.features.feature_space
    f = setup.features.n_features
    obs, info = env.reset(options={"pair": name})
    assert info == {"pair": name, "start": 0, "frames": ap.n_frames}
    rng = np.random.default_rng(0)
    actions = rng.random((ap.n_frames, env.n_params)).astype(np.float32)
    observations, distances, processed = [obs], [], []
    for t in range(ap.n_frames):
        obs, reward, terminated, truncated, info = env.step(actions[t])
        assert info["frame"] == t and not terminated and truncated == (t == ap.n_frames - 1)
        observations.append(obs)
        distances.append(info["distance"])
        processed.append(env.processed_frame())
        assert reward == pytest.approx(1.0 - info["distance"])  # linear reward of the step's distance
        assert info["dry_distance"] == pytest.approx(float(fs.distance(ap.dry[t], ap.target[t])))
    for t in range(ap.n_frames):
        o = observations[t]
        assert_allclose(o[:f], fs.obs_features(ap.dry[t]), atol=1e-5, rtol=0)
        assert_allclose(o[2 * f : 3 * f], fs.obs_features(ap.target[t]), atol=1e-5, rtol=0)
        if t > 0:
            assert_allclose(o[f : 2 * f], fs.obs_features(processed[t - 1]), atol=1e-5, rtol=0)
            assert_allclose(o[3 * f :], actions[t - 1], atol=1e-6, rtol=0)
    # independent rendering: the same chain, block by block, then the batch analyzer
    c = setup.config
    chain = EffectChain.from_spec(c.effects, sample_rate=22050, ramp=c.ramp)
    chain.reset(chain.defaults)
    padded = np.concatenate([ap.pair.source, np.zeros(-ap.pair.source.size % 256)])  # hops are padded, as live pads them
    offline = shared_analyzer(c.analysis_settings()).analyze(chain.render(padded, actions, block=256))
    assert_allclose(np.stack(processed), offline, atol=1e-6, rtol=0)
    assert_allclose(distances, fs.distance(offline, ap.target), atol=1e-6, rtol=0)


def test_training_episodes_are_seeded_stretches_with_random_starts(setup):
    env = setup.make_env(split="train", max_episode_steps=20)
    obs1, info1 = env.reset(seed=5)
    traj1 = [env.step(np.full(env.n_params, 0.3, np.float32))[1] for _ in range(20)]
    obs2, info2 = env.reset(seed=5)
    traj2 = [env.step(np.full(env.n_params, 0.3, np.float32))[1] for _ in range(20)]
    assert info1 == info2 and np.array_equal(obs1, obs2) and traj1 == traj2
    starts = {env.reset(seed=s)[1]["start"] for s in range(20)}
    assert len(starts) > 5 and all(0 <= s <= setup.pairs[setup.train_pairs[0]].n_frames - 20 for s in starts)
    env.reset(seed=0)
    for _ in range(20):
        *_, truncated, _ = env.step(env.action_space.sample())
    assert truncated


def test_preroll_puts_the_effects_in_their_state_before_the_episode(setup):
    """An episode starting inside a pair sees the processed frame of the hop before its start."""
    env = setup.make_env(split="train", max_episode_steps=10)
    obs, info = env.reset(seed=1, options={"params": np.full(env.n_params, 0.5)})
    assert info["start"] > 0
    f = setup.features.n_features
    silence = setup.features.feature_space.obs_features(env.processor.silence)
    assert not np.allclose(obs[f : 2 * f], silence)


def test_options_and_errors(setup):
    env = setup.make_env(split="eval")
    with pytest.raises(ParameterError, match="call reset"):
        env.step(env.action_space.sample())
    with pytest.raises(ParameterError, match="pair '02-noise-melodi' is not in this environment; did you mean '02-noise-melody'"):
        env.reset(options={"pair": "02-noise-melodi"})
    with pytest.raises(ParameterError, match="options\\['params'\\] must be 4 finite numbers"):
        env.reset(options={"params": [0.1, 0.2]})
    with pytest.raises(ParameterError, match="does not render"):
        setup.make_env(render_mode="human")


def test_feature_space_for_another_chain_is_refused(setup):
    fs = setup.features.feature_space
    wrong = CrossFeatures(FeatureSpace(features=fs.features, features_reward=fs.features_reward, mean=fs.mean, std=fs.std, n_params=3))
    with pytest.raises(MismatchError, match=r"made for 3 effect parameters, the chain \(lowpass.cutoff, lowpass.resonance, "
                                            r"distortion.drive, gain.level\) has 4"):
        setup.make_env(features=wrong)
    with pytest.raises(ParameterError, match="at least one source/target pair"):
        CrossAdaptiveEnv(pairs={}, chain_spec=["gain"], features=wrong, settings=setup.config.analysis_settings())


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"\[effects\] .*unknown effect 'distorsion'; did you mean 'distortion'"):
        make_setup(effects=["lowpass", "distorsion"])
    with pytest.raises(ConfigError, match=r"\[material.generated.held_out\]|held_out 3 leaves no pair"):
        make_setup(material={**SMALL, "held_out": 3})
    with pytest.raises(ConfigError, match=r"algorithm DQN does not support action_type 'absolute'"):
        make_setup(algorithm="DQN")
    with pytest.raises(ConfigError, match=r"\[synth\] unknown key"):
        make_setup(synth="fm")
    with pytest.raises(ConfigError, match=r"\[features\] .*item 0: 'loudnes' is not a descriptor or group; did you mean 'loudness'"):
        make_setup(features=["loudnes"])
