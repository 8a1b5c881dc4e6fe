"""The live agent sees exactly what the environment showed the policy in training, and acts the same."""

from __future__ import annotations

import numpy as np
import pytest

from rlimpro.env.improvisation import ImprovisationEnv
from rlimpro.env.synth_model import LookupGrid
from rlimpro.errors import MismatchError, ParameterError
from rlimpro.live.agent import LiveAgent, load_agent
from rlimpro.runs import read_run_json

from .live_support import HELD_OUT, trained_run

pytestmark = pytest.mark.slow  # shares the trained run with the other live tests


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return trained_run(tmp_path_factory)


def _corpus_frames(ws) -> np.ndarray:
    import pandas as pd

    from rlimpro.descriptors import DESCRIPTORS

    table = pd.read_csv(ws / "corpora" / "demo" / "features" / f"{HELD_OUT}.csv")
    return table.loc[table["active"] == 1, list(DESCRIPTORS)].to_numpy(np.float64)


def _eval_env(agent: LiveAgent, frames: np.ndarray, interpolation: str) -> ImprovisationEnv:
    return ImprovisationEnv(
        grid=agent.grid, feature_space=agent.features, corpus={HELD_OUT: frames}, training_mode="corpus",
        action_type=agent.action_type, step_size=agent.actions.step_size, max_episode_steps=None,
        corpus_order="cycle", start="default", default_params=agent.initial_params, interpolation=interpolation,
    )


@pytest.mark.parametrize("interpolation", ["nearest", "multilinear"])
def test_observations_and_actions_equal_the_environment(run, interpolation):
    ws, run_dir = run
    agent = load_agent(synth="fm", model="latest", workspace=ws)
    if interpolation != agent.grid.interpolation:
        agent.grid = agent.grid.with_values(agent.grid.values)
        agent.grid.interpolation = interpolation
        agent.reset()
    frames = _corpus_frames(ws)
    env = _eval_env(agent, frames, interpolation)
    obs, _ = env.reset(options={"file": HELD_OUT})
    steps = 0
    for frame in frames:
        live_obs = agent.features.observation(synth=agent.synth, target=frame, params=agent.params)
        np.testing.assert_allclose(live_obs, obs, rtol=0, atol=1e-6 if interpolation == "multilinear" else 0)
        params, descriptors = agent.decide(frame)
        action, _ = agent.sb3_model.predict(obs, deterministic=True)  # the training-side path
        obs, _, _, truncated, info = env.step(action)
        np.testing.assert_array_equal(params, env.params)
        np.testing.assert_allclose(agent.features.distance(descriptors, frame), info["distance"], rtol=1e-9)
        steps += 1
        if truncated:
            break
    assert steps == len(frames) and agent.decisions == steps


def test_silence_is_held_not_decided(run):
    ws, _ = run
    agent = load_agent(synth="fm", model="latest", workspace=ws)
    assert agent.silence_db == -60.0  # the run trained on active frames only
    quiet = np.full(agent.settings.hop, 1e-5)  # -100 dBFS
    assert not any(agent.hop_is_active(quiet) for _ in range(4))
    loud = 0.3 * np.sin(np.arange(agent.settings.hop) * 0.1)
    assert agent.hop_is_active(loud)
    before = agent.params.copy()
    params, _ = agent.hold()
    assert np.array_equal(params, before) and agent.held == 1 and agent.decisions == 0


def test_agent_refuses_parts_that_do_not_fit(run):
    ws, run_dir = run
    agent = load_agent(synth="fm", model="latest", workspace=ws)
    with pytest.raises(MismatchError, match="parameter counts differ"):
        LiveAgent(policy=agent.policy, feature_space=agent.features, actions=agent.actions,
                  grid=LookupGrid(np.zeros((6**2, 36)), n_params=2, subdiv=6),
                  spec=agent.spec, settings=agent.settings, initial_params=agent.initial_params)
    with pytest.raises(ParameterError, match="initial parameters"):
        LiveAgent(policy=agent.policy, feature_space=agent.features, actions=agent.actions, grid=agent.grid,
                  spec=agent.spec, settings=agent.settings, initial_params=np.zeros(2))
    assert read_run_json(run_dir)["default_params"] == list(agent.initial_params)
