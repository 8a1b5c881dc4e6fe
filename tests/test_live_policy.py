"""The numpy policy export: the same deterministic actions as SB3's predict, on 1,000 random observations."""

from __future__ import annotations

import zipfile

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from rlimpro.errors import MismatchError, NotFoundError, ParameterError
from rlimpro.live.policy import algorithm_of_zip, export_policy, load_sb3

OBS_DIM = 12


class TinyEnv(gym.Env):
    """A small real environment: reward for actions that follow the first observation values."""

    def __init__(self, action_space: spaces.Space):
        self.observation_space = spaces.Box(-4.0, 4.0, (OBS_DIM,), np.float32)
        self.action_space = action_space
        self._rng = np.random.default_rng(0)
        self._t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._t = 0
        self._obs = self._rng.uniform(-4, 4, OBS_DIM).astype(np.float32)
        return self._obs, {}

    def step(self, action):
        a = np.atleast_1d(np.asarray(action, dtype=np.float64))
        reward = -float(np.abs(a[0] - self._obs[0]))
        self._t += 1
        self._obs = self._rng.uniform(-4, 4, OBS_DIM).astype(np.float32)
        return self._obs, reward, False, self._t >= 32, {}


def _model(algo: str, action_space: spaces.Space):
    import stable_baselines3 as sb3

    env = TinyEnv(action_space)
    kwargs = dict(device="cpu", seed=3, verbose=0)
    if algo in ("PPO", "A2C"):
        kwargs.update(n_steps=32, policy_kwargs=dict(net_arch=[32, 32]))
    elif algo == "DQN":
        kwargs.update(learning_starts=16, buffer_size=500, train_freq=4, policy_kwargs=dict(net_arch=[32, 32]))
    else:
        kwargs.update(learning_starts=16, buffer_size=500, policy_kwargs=dict(net_arch=[32, 32]))
    if algo == "PPO":
        kwargs.update(batch_size=32)
    model = getattr(sb3, algo)("MlpPolicy", env, **kwargs)
    model.learn(total_timesteps=64)  # a few real updates, so the weights are not the initial ones
    return model


CASES = [
    ("PPO", spaces.Discrete(27)),
    ("PPO", spaces.MultiDiscrete([3, 3, 3])),
    ("PPO", spaces.Box(-1.0, 1.0, (3,), np.float32)),
    ("A2C", spaces.Discrete(9)),
    ("A2C", spaces.Box(0.0, 1.0, (2,), np.float32)),
    ("DQN", spaces.Discrete(27)),
    ("SAC", spaces.Box(-1.0, 1.0, (3,), np.float32)),
    ("SAC", spaces.Box(0.0, 1.0, (3,), np.float32)),
    ("TD3", spaces.Box(-1.0, 1.0, (3,), np.float32)),
    ("TD3", spaces.Box(0.0, 1.0, (2,), np.float32)),
]


@pytest.mark.parametrize(("algo", "space"), CASES, ids=[f"{a}-{type(s).__name__}-{s.shape}" for a, s in CASES])
def test_numpy_policy_matches_sb3_predict(algo, space, tmp_path):
    model = _model(algo, space)
    path = tmp_path / f"{algo}.zip"
    model.save(path)
    assert algorithm_of_zip(path) == algo
    loaded = load_sb3(path)
    policy = export_policy(loaded)

    obs = np.random.default_rng(42).uniform(-6.0, 6.0, (1000, OBS_DIM)).astype(np.float32)  # beyond the box, too
    ref = np.stack([loaded.predict(o, deterministic=True)[0] for o in obs])
    one_by_one = np.stack([policy.predict(o) for o in obs])
    batched = policy.predict(obs)
    assert one_by_one.shape == ref.shape == batched.shape
    if isinstance(space, spaces.Box):
        np.testing.assert_allclose(one_by_one, ref, atol=1e-5, rtol=0)
        np.testing.assert_allclose(batched, ref, atol=1e-5, rtol=0)
        assert (one_by_one >= space.low - 1e-7).all() and (one_by_one <= space.high + 1e-7).all()
        assert np.ptp(ref, axis=0).max() > 1e-3  # the actions actually vary, so equality means something
    else:
        np.testing.assert_array_equal(one_by_one, ref)
        np.testing.assert_array_equal(batched, ref)
        assert len(np.unique(ref, axis=0)) > 1


def test_clipping_is_applied_for_gaussian_heads():
    model = _model("PPO", spaces.Box(-0.01, 0.01, (3,), np.float32))
    policy = export_policy(model)
    obs = np.random.default_rng(1).uniform(-4, 4, (200, OBS_DIM)).astype(np.float32)
    raw = policy.forward(obs)
    assert (np.abs(raw) > 0.01).any()  # the mean leaves the box ...
    act = policy.predict(obs)
    assert np.abs(act).max() <= 0.01 + 1e-8  # ... and predict clips it, as SB3 does
    ref = np.stack([model.predict(o, deterministic=True)[0] for o in obs])
    np.testing.assert_allclose(act, ref, atol=1e-6, rtol=0)


def test_wrong_observation_length_is_refused():
    policy = export_policy(_model("DQN", spaces.Discrete(3)))
    with pytest.raises(ParameterError, match=f"{OBS_DIM} values"):
        policy.predict(np.zeros(OBS_DIM + 1))


def test_gsde_is_refused():
    import stable_baselines3 as sb3

    model = sb3.PPO("MlpPolicy", TinyEnv(spaces.Box(-1, 1, (2,), np.float32)), use_sde=True, device="cpu", n_steps=32, batch_size=32)
    with pytest.raises(MismatchError, match="gSDE"):
        export_policy(model)


def test_non_mlp_extractor_is_refused():
    import stable_baselines3 as sb3
    import torch.nn as nn
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    class Extractor(BaseFeaturesExtractor):
        def __init__(self, observation_space):
            super().__init__(observation_space, features_dim=8)
            self.net = nn.Linear(OBS_DIM, 8)

        def forward(self, obs):
            return self.net(obs)

    model = sb3.A2C(
        "MlpPolicy", TinyEnv(spaces.Discrete(3)), device="cpu",
        policy_kwargs=dict(features_extractor_class=Extractor),
    )
    with pytest.raises(MismatchError, match="features extractor Extractor"):
        export_policy(model)


def test_bad_model_files(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        algorithm_of_zip(tmp_path / "missing.zip")
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(NotFoundError, match="not a Stable-Baselines3 model zip"):
        load_sb3(junk)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("data", '{"policy_class": {"__module__": "sb3_contrib.qrdqn.policies"}}')
    with pytest.raises(MismatchError, match="sb3_contrib"):
        algorithm_of_zip(other)
