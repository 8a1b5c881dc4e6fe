"""The match and sequence environments: API conformance (check_env without warnings), rendering in the loop."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import soundfile as sf
from numpy.testing import assert_allclose
from stable_baselines3.common.env_checker import check_env

from rlimpro.env.rewards import Reward
from rlimpro.errors import ParameterError
from tests.conftest import require_program
from tests.task_support import CHOICE_SPECS, NOTES, SECONDS, SR, match_env, sequence_env

CASES = [
    ("match", "descriptors", "descriptors", None),
    ("match", "spectrogram", "spectral", None),
    ("match", "descriptors", "spectral", CHOICE_SPECS),
    ("match", "spectrogram", "descriptors", CHOICE_SPECS),
    ("sequence", "descriptors", "descriptors", None),
    ("sequence", "spectrogram", "spectral", None),
    ("sequence", "descriptors", "descriptors", CHOICE_SPECS),
    ("sequence", "spectrogram", "spectral", CHOICE_SPECS),
]


@pytest.mark.parametrize(("task", "observation", "distance", "specs"), CASES)
def test_check_env_passes_without_warnings(task, observation, distance, specs):
    make = match_env if task == "match" else sequence_env
    env = make(specs, observation=observation, distance=distance)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, warn=True)
    assert [str(w.message) for w in caught] == []
    kind = "MultiDiscrete" if specs else "Box"
    assert type(env.action_space).__name__ == kind
    if observation == "spectrogram":
        assert env.observation_space.shape == (2, 40, 40) and env.observation_space.dtype == np.uint8


def test_gymnasium_checker_passes_too():
    from gymnasium.utils.env_checker import check_env as gym_check

    for env in (match_env(), sequence_env(observation="spectrogram", distance="spectral")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gym_check(env, skip_render_check=True)
        assert [str(w.message) for w in caught] == []


def test_match_renders_every_step_and_seeding_is_reproducible():
    env = match_env(max_steps=4)
    obs1, info = env.reset(seed=5)
    assert info["renders"] == 1 and np.isfinite(info["distance"])
    actions = [np.array([0.5, -0.3, 1.0], dtype=np.float32)] * 4
    trace1 = [env.step(a)[1] for a in actions]
    assert env.renders == 5 and env.total_renders == 5
    obs2, _ = env.reset(seed=5)
    trace2 = [env.step(a)[1] for a in actions]
    assert_allclose(obs1, obs2) and trace1 == trace2
    env.reset(seed=6)
    assert env.target.name != "" and not np.allclose(env.step(actions[0])[0], obs1)


def test_match_distance_is_zero_at_the_hidden_parameters_and_ends_early_paying_the_rest():
    env = match_env(held_out=2, max_steps=6, threshold=1e-6, start="default", reward=Reward("linear"))
    env.reset(seed=0, options={"target": 1})
    hidden = env.target.controls
    action = env.actions.to_action(hidden) if env.actions.mode == "absolute" else None
    assert action is None  # incremental: walk there in steps of at most step_size
    done, rewards, steps = False, [], 0
    while not done:
        delta = np.clip((hidden - env.controls) / env.actions.step_size, -1, 1).astype(np.float32)
        _, r, terminated, truncated, info = env.step(delta)
        rewards.append(r)
        steps += 1
        done = terminated or truncated
    assert terminated and info["distance"] < 1e-6
    assert_allclose(env.params, env.target.params, atol=1e-9)
    assert rewards[-1] == pytest.approx(1.0 * (1 + 6 - steps))  # the rest of the episode at reward 1


def test_match_truncates_after_max_steps_without_threshold():
    env = match_env(max_steps=3)
    env.reset(seed=1)
    flags = [env.step(env.action_space.sample())[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]


def test_match_eval_pool_cycles_and_options_pick_targets_and_controls():
    env = match_env(held_out=3, start="default")
    names = [env.reset()[1]["target"] for _ in range(4)]
    assert names == ["t0", "t1", "t2", "t0"]
    _, info = env.reset(options={"target": "t2", "controls": [0.1, 0.2, 0.3]})
    assert info["target"] == "t2"
    assert_allclose(env.controls, [0.1, 0.2, 0.3])
    with pytest.raises(ParameterError, match="no target named 't9'"):
        env.reset(options={"target": "t9"})
    with pytest.raises(ParameterError, match="options\\['controls'\\]"):
        env.reset(options={"controls": [0.1]})
    fresh = match_env()
    with pytest.raises(ParameterError, match="reset\\(\\) before step"):
        fresh.step(fresh.action_space.sample())


def test_match_distance_at_counts_renders_for_optimisers():
    env = match_env(held_out=1, start="default")
    env.reset()
    before = env.renders
    d = env.distance_at(env.target.controls)
    assert d == 0.0 and env.renders == before + 1


def test_sequence_plays_a_phrase_segment_by_segment_and_saves_its_audio(tmp_path):
    env = sequence_env(CHOICE_SPECS, total_steps=4, held_out=1, save_audio_dir=tmp_path)
    obs, info = env.reset(seed=0)
    assert info["renders"] == 0 and obs[-1] == 0.0
    hidden = env.target.controls  # (4, M) notes of a melodic random walk
    assert hidden.shape == (4, 2)
    k = np.minimum((hidden * env.actions.nvec).astype(int), env.actions.nvec - 1)
    rewards = []
    for t in range(4):
        obs, r, terminated, truncated, info = env.step(k[t])
        rewards.append(r)
        assert info["distance"] == 0.0 and obs[-1] == pytest.approx((t + 1) / 4)
    assert terminated and not truncated and env.renders == 4 and rewards == [1.0] * 4
    audio, sr = sf.read(tmp_path / "episode-1.wav")
    target, _ = sf.read(tmp_path / "episode-1-target.wav")
    assert sr == SR and audio.shape == (4 * int(SECONDS * SR),)
    assert_allclose(audio, target, atol=1e-4)  # the agent played the hidden phrase: the same 16-bit audio
    with pytest.raises(ParameterError, match="phrase is complete"):
        env.step(k[0])


def test_sequence_phrases_are_melodic_random_walks():
    env = sequence_env(CHOICE_SPECS, total_steps=16)
    env.reset(seed=3)
    notes = env.layout.physical(env.target.controls)[:, 0]
    idx = np.array([NOTES.index(n) for n in notes])
    steps = np.abs(np.diff(idx))
    assert (steps <= 2).all() and (steps >= 0).all() and len(set(idx)) > 2


def test_sequence_refuses_targets_shorter_than_the_phrase():
    env = sequence_env(total_steps=4, held_out=1)
    env.targets.fixed[0].audio = env.targets.fixed[0].audio[: int(2.5 * SECONDS * SR)]
    with pytest.raises(ParameterError, match="4 steps of 0.1 s need 0.4 s"):
        env.reset()


def test_render_mode_is_refused():
    with pytest.raises(ParameterError, match="does not render"):
        match_env(render_mode="human")


@pytest.mark.pd
def test_match_renders_with_pure_data_in_the_loop():
    require_program("pd", "puredata-core")
    env = match_env(engine="pd", max_steps=2, held_out=1, start="default")
    native = match_env(max_steps=2, held_out=1, start="default")
    obs_pd, _ = env.reset(seed=0)
    obs_native, _ = native.reset(seed=0)
    a = np.array([0.3, -0.2, 0.5], dtype=np.float32)
    o1, _, _, _, i1 = env.step(a)
    o2, _, _, _, i2 = native.step(a)
    assert env.renders == 2 and env.renderer.__class__.__name__ == "PdEngine"
    # the shipped fm synth.pd implements the native formula: the same descriptors up to Pd's float32 cosine table
    assert_allclose(i1["distance"], i2["distance"], atol=0.05)
