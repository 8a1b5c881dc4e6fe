"""The gymnasium environment: API conformance, seeding, O(1) grid model, every option changing behaviour."""

from __future__ import annotations

import itertools
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from numpy.testing import assert_allclose

import rlimpro.env  # noqa: F401  (registers the id)
from rlimpro.descriptors.registry import DESCRIPTORS
from rlimpro.env import ENV_ID, ActionMap, FeatureSpace, LookupGrid, Reward, nearest_by_scan
from rlimpro.env.factory import prepare
from rlimpro.env.targets import TRAINING_MODES, TargetSource
from rlimpro.errors import ConfigError, ParameterError
from rlimpro.train_config import TrainConfig
from tests.learning_data import CORPUS, FILES, HELD_OUT, config_dict, tiny_workspace

D = len(DESCRIPTORS)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return tiny_workspace(tmp_path_factory, tmp_path_factory.mktemp("env"))


def setup_for(ws, **overrides):
    return prepare(TrainConfig(**config_dict(**overrides)), workspace=ws, source="test")


@pytest.fixture
def synthetic():
    """A random 3-parameter grid of raw descriptors and a matching feature space (no files)."""
    rng = np.random.default_rng(0)
    grid = LookupGrid(rng.normal(size=(5**3, D)) * 3 + 10, n_params=3, subdiv=5)
    fs = FeatureSpace.from_lookup(grid.values, features=["mfcc"], features_reward=["mfcc-1", "mfcc-2"], n_params=3)
    corpus = {"x": rng.normal(size=(40, D)) * 3 + 10, "y": rng.normal(size=(30, D)) * 3 + 10, "z": rng.normal(size=(50, D)) * 3 + 10}
    return grid, fs, corpus


# ---------------------------------------------------------------- API conformance
@pytest.mark.parametrize("action_type", ["discrete", "continuous", "absolute"])
@pytest.mark.parametrize("mode", TRAINING_MODES)
def test_check_env_without_warnings(ws, action_type, mode):
    env = gymnasium.make(ENV_ID, config=str(ws / "configs" / "tiny.yaml"), workspace=str(ws), action_type=action_type, training_mode=mode)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []
    assert env.unwrapped.observation_space.dtype == np.float32


def test_make_with_plain_kwargs_outside_the_cli(ws):
    env = gymnasium.make(ENV_ID, workspace=str(ws), synth="sine", corpus=CORPUS, features=["pitch"], action_type="continuous")
    obs, info = env.reset(seed=1)
    assert obs.shape == (2 * 3 + 3 + 2,) and info["mode"] == "corpus"  # synth, target, error, params
    assert env.observation_space.contains(obs)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert np.isfinite(reward) and not terminated and info["distance"] >= 0


def test_observations_stay_inside_the_box(ws):
    env = setup_for(ws, action_type="absolute").make_env()
    env.action_space.seed(0)
    obs, _ = env.reset(seed=0)
    for _ in range(300):
        assert env.observation_space.contains(obs)
        obs, _, _, truncated, _ = env.step(env.action_space.sample())
        if truncated:
            obs, _ = env.reset()


# ---------------------------------------------------------------- seeding
def _trajectory(env, seed, n=60):
    obs, info = env.reset(seed=seed)
    env.action_space.seed(seed)
    out = [obs]
    files = [info["file"]]
    for _ in range(n):
        obs, r, _, trunc, _ = env.step(env.action_space.sample())
        out.append(obs)
        if trunc:
            obs, info = env.reset()
            files.append(info["file"])
    return np.array(out), files


def test_same_seed_same_episodes_other_seed_other_episodes(ws):
    setup = setup_for(ws, training_mode="mixed_random+corpus")
    a, _ = _trajectory(setup.make_env(), 5)
    b, _ = _trajectory(setup.make_env(), 5)
    c, _ = _trajectory(setup.make_env(), 6)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_a_fixed_seed_does_not_replay_one_file(ws):
    env = setup_for(ws, max_episode_steps=8).make_env()
    env.reset(seed=0)
    files = {env.reset()[1]["file"] for _ in range(30)}
    assert files == set(FILES) - set(HELD_OUT)
    starts = {env.reset()[1]["start"] for _ in range(30)}
    assert len(starts) > 3  # stretches of the files are drawn too


# ---------------------------------------------------------------- the grid model
def test_grid_indexing_equals_brute_force_nearest(synthetic):
    grid, _, _ = synthetic
    pts = grid.grid_params()
    rng = np.random.default_rng(1)
    for p in rng.uniform(size=(500, 3)):
        row = nearest_by_scan(p, pts)
        assert grid.index(p) == row
        assert np.array_equal(grid(p), grid.values[row])
    batch = rng.uniform(size=(200, 3))
    assert np.array_equal(grid.batch(batch), grid.values[[nearest_by_scan(p, pts) for p in batch]])


def test_multilinear_is_exact_at_grid_points_and_linear_between(synthetic):
    grid, _, _ = synthetic
    ml = LookupGrid(grid.values, n_params=3, subdiv=5, interpolation="multilinear")
    pts = ml.grid_params()
    for i, p in enumerate(pts):
        assert_allclose(ml(p), grid.values[i], rtol=0, atol=1e-12)
    assert_allclose(ml.batch(pts), grid.values, rtol=0, atol=1e-12)
    # halfway between two neighbours along one axis: their mean
    a, b = np.array([0.25, 0.5, 0.0]), np.array([0.25, 0.75, 0.0])
    mid = (a + b) / 2
    assert_allclose(ml(mid), (grid.values[grid.index(a)] + grid.values[grid.index(b)]) / 2, atol=1e-12)
    # the centre of a cell: the mean of its 8 corners
    corners = [np.array(c) * 0.25 for c in itertools.product((1, 2), repeat=3)]
    assert_allclose(ml(np.full(3, 0.375)), np.mean([grid.values[grid.index(c)] for c in corners], axis=0), atol=1e-12)
    q = np.random.default_rng(2).uniform(size=(50, 3))
    assert_allclose(ml.batch(q), np.array([ml(p) for p in q]), atol=1e-12)


def test_grid_refuses_a_table_that_is_not_its_grid():
    with pytest.raises(ParameterError, match="needs 125 rows"):
        LookupGrid(np.zeros((100, D)), n_params=3, subdiv=5)


# ---------------------------------------------------------------- feature space
def test_feature_space_scaling_distance_roundtrip(synthetic):
    grid, fs, _ = synthetic
    z = fs.zscore(grid.values)
    assert_allclose(z.mean(axis=0), 0, atol=1e-9)
    assert_allclose(z.std(axis=0), 1, atol=1e-9)
    a, b = grid.values[3], grid.values[7]
    i, j = DESCRIPTORS.index("mfcc-1"), DESCRIPTORS.index("mfcc-2")
    manual = np.sqrt(((z[3, i] - z[7, i]) ** 2 + (z[3, j] - z[7, j]) ** 2) / 2)
    assert_allclose(fs.distance(a, b), manual, rtol=1e-12)
    far = np.full(D, 1e9)
    assert np.all(np.abs(fs.zscore(far)) <= fs.clip)
    obs = fs.observation(synth=a, target=far, params=np.array([0.1, 0.2, 2.0]))
    assert obs.dtype == np.float32 and obs.shape == (fs.observation_size,)
    low, high = fs.observation_bounds()
    assert np.all(obs >= low) and np.all(obs <= high)
    again = FeatureSpace.from_dict(fs.to_dict())
    assert_allclose(again.observation(synth=a, target=b, params=np.zeros(3)), fs.observation(synth=a, target=b, params=np.zeros(3)))


def test_reward_weights_change_the_distance(synthetic):
    grid, fs, _ = synthetic
    heavy = FeatureSpace(features=["mfcc"], features_reward=["mfcc-1", "mfcc-2"], mean=fs.mean, std=fs.std, n_params=3,
                         reward_weights={"mfcc-1": 5.0})
    a, b = grid.values[3], grid.values[7]
    z = fs.zscore(np.stack([a, b]))
    i, j = DESCRIPTORS.index("mfcc-1"), DESCRIPTORS.index("mfcc-2")
    manual = np.sqrt((5 * (z[0, i] - z[1, i]) ** 2 + (z[0, j] - z[1, j]) ** 2) / 6)
    assert_allclose(heavy.distance(a, b), manual, rtol=1e-12)
    assert heavy.distance(a, b) != fs.distance(a, b)
    with pytest.raises(ParameterError, match="not in features_reward"):
        FeatureSpace(features=["mfcc"], features_reward=["mfcc-1"], mean=fs.mean, std=fs.std, n_params=3, reward_weights={"centroid": 2})


def test_constant_descriptor_gets_unit_std():
    values = np.random.default_rng(0).normal(size=(4, D))
    values[:, 0] = -9.03
    fs = FeatureSpace.from_lookup(values, features=["loudness-dBFS"], features_reward=["loudness-dBFS"], n_params=2)
    assert fs.std[0] == 1.0
    assert np.isfinite(fs.zscore(values)).all()


# ---------------------------------------------------------------- the step
def test_reward_is_the_distance_between_model_and_observed_target(ws):
    setup = setup_for(ws, reward_type="inverse", interpolation="nearest")
    env = setup.make_env(split="eval")
    stem = HELD_OUT[0]
    env.reset(options={"file": stem})
    frames = setup.frames[stem]
    rng = np.random.default_rng(0)
    for t in range(len(frames)):
        _, reward, terminated, truncated, info = env.step(int(rng.integers(env.action_space.n)))
        expected = setup.feature_space.distance(setup.grid(env.params), frames[t])
        assert_allclose(info["distance"], expected, rtol=1e-9, atol=1e-12)
        assert_allclose(reward, 1 / (1 + expected), rtol=1e-9)
        assert not terminated
        assert truncated == (t == len(frames) - 1)


def test_observation_layout(ws):
    setup = setup_for(ws, features=["centroid", "pitch"])
    env = setup.make_env(split="eval")
    stem = HELD_OUT[0]
    obs, _ = env.reset(options={"file": stem, "params": [0.2, 0.8]})
    fs = setup.feature_space
    expected = fs.observation(synth=setup.grid(np.array([0.2, 0.8])), target=setup.frames[stem][0], params=np.array([0.2, 0.8]))
    assert_allclose(obs, expected, rtol=1e-6)
    obs, *_ = env.step(env.actions.stay_action())
    assert_allclose(obs[fs.n_features : 2 * fs.n_features], fs.obs_features(setup.frames[stem][1]), rtol=1e-6)


def test_truncation_at_max_episode_steps(ws):
    env = setup_for(ws, training_mode="dynamic_random", max_episode_steps=17).make_env()
    env.reset(seed=0)
    for t in range(17):
        _, _, terminated, truncated, _ = env.step(0)
        assert truncated == (t == 16) and not terminated


# ---------------------------------------------------------------- every option changes behaviour
def test_reward_types_differ():
    distances = [0.0, 0.05, 0.3, 0.9, 2.5]
    table = {t: [Reward(t)(d) for d in distances] for t in ("linear", "cubic", "cubic+prize", "prize", "inverse")}
    rows = list(table.values())
    assert all(rows[i] != rows[j] for i in range(len(rows)) for j in range(i + 1, len(rows)))
    assert table["linear"] == [1 - d for d in distances]
    assert table["prize"] == [1, 1, -1, -1, -1]
    assert table["cubic+prize"][0] == pytest.approx(4 * 0.125 + 1)
    assert Reward("prize", prize=10)(0.0) == 10
    assert Reward("prize", prize_threshold=0.5)(0.3) == 1
    assert Reward("linear", scale=2.0)(1.0) == 0.5
    with pytest.raises(ParameterError, match="did you mean 'cubic'"):
        Reward("cubc")


@pytest.mark.parametrize("reward_type", ["linear", "cubic", "cubic+prize", "prize", "inverse"])
def test_the_env_uses_its_reward_type(ws, reward_type):
    env = setup_for(ws, reward_type=reward_type, prize_threshold=10.0).make_env(split="eval")
    env.reset(options={"file": HELD_OUT[0]})
    _, reward, _, _, info = env.step(0)
    assert reward == pytest.approx(Reward(reward_type, prize_threshold=10.0)(info["distance"]))


def test_action_types_and_step_size():
    p = np.array([0.5, 0.5])
    disc = ActionMap("discrete", n_params=2, step_size=0.1)
    assert disc.deltas.shape == (9, 2)
    assert_allclose(disc.apply(p, 0), [0.4, 0.4])
    assert_allclose(disc.apply(p, 4), p)  # stay, stay
    assert_allclose(disc.apply(p, 8), [0.6, 0.6])
    assert_allclose(disc.apply(p, 5), [0.5, 0.6])  # param-0 stays (digit 1), param-1 up (digit 2)
    assert_allclose(ActionMap("discrete", n_params=2, step_size=0.25).apply(p, 8), [0.75, 0.75])
    cont = ActionMap("continuous", n_params=2, step_size=0.2)
    assert_allclose(cont.apply(p, np.array([1.0, -0.5], dtype=np.float32)), [0.7, 0.4], atol=1e-7)
    assert_allclose(cont.apply(np.array([0.95, 0.0]), np.array([1.0, -1.0])), [1.0, 0.0])
    ab = ActionMap("absolute", n_params=2)
    assert_allclose(ab.apply(p, np.array([0.1, 0.9])), [0.1, 0.9])
    assert ab.space().shape == (2,) and cont.space().low.min() == -1
    with pytest.raises(ParameterError, match="did you mean 'discrete'"):
        ActionMap("discret", n_params=2)


def test_interpolation_changes_the_synth_descriptors(ws):
    near = setup_for(ws, interpolation="nearest").make_env(split="eval")
    lin = setup_for(ws, interpolation="multilinear").make_env(split="eval")
    for env in (near, lin):
        env.reset(options={"file": HELD_OUT[0], "params": [0.3, 0.5]})
    assert not np.allclose(near.synth_descriptors(), lin.synth_descriptors())
    for env in (near, lin):
        env.reset(options={"file": HELD_OUT[0], "params": [0.4, 0.6]})  # a grid point of subdiv 6
    assert_allclose(near.synth_descriptors(), lin.synth_descriptors(), atol=1e-9)


def test_training_modes(synthetic):
    grid, fs, corpus = synthetic
    packed_grid = fs.packed(grid.values)
    packed = {k: fs.packed(v) for k, v in corpus.items()}
    rng = np.random.default_rng(0)

    src = TargetSource(mode="corpus", grid_rows=packed_grid, corpus=packed, episode_steps=10)
    ep = src.episode(rng)
    assert ep.mode == "corpus" and ep.targets.shape[0] == 10
    assert_allclose(ep.targets, packed[ep.file][ep.start : ep.start + 10])  # frames in order

    static = TargetSource(mode="static_random", grid_rows=packed_grid, episode_steps=50).episode(rng)
    assert static.mode == "static_random" and np.all(static.targets == static.targets[0])
    assert any(np.allclose(static.targets[0], r) for r in packed_grid)  # reachable

    dyn = TargetSource(mode="dynamic_random", grid_rows=packed_grid, episode_steps=400, change_prob=0.05).episode(rng)
    changes = np.count_nonzero(np.any(np.diff(dyn.targets, axis=0) != 0, axis=1))
    assert 5 < changes < 40
    rare = TargetSource(mode="dynamic_random", grid_rows=packed_grid, episode_steps=400, change_prob=0.005).episode(rng)
    assert np.count_nonzero(np.any(np.diff(rare.targets, axis=0) != 0, axis=1)) < changes

    mixed = TargetSource(mode="mixed_random", grid_rows=packed_grid, episode_steps=20)
    assert {mixed.episode(rng).mode for _ in range(40)} == {"static_random", "dynamic_random"}
    both = TargetSource(mode="mixed_random+corpus", grid_rows=packed_grid, corpus=packed, episode_steps=20)
    assert {both.episode(rng).mode for _ in range(60)} == {"corpus", "static_random", "dynamic_random"}
    never = TargetSource(mode="mixed_random+corpus", grid_rows=packed_grid, corpus=packed, episode_steps=20, corpus_fraction=0.0)
    assert "corpus" not in {never.episode(rng).mode for _ in range(40)}
    always = TargetSource(mode="mixed_random+corpus", grid_rows=packed_grid, corpus=packed, episode_steps=20, corpus_fraction=1.0)
    assert {always.episode(rng).mode for _ in range(20)} == {"corpus"}

    cycle = TargetSource(mode="corpus", grid_rows=packed_grid, corpus=packed, order="cycle")
    eps = [cycle.episode(rng) for _ in range(4)]
    assert [e.file for e in eps] == ["x", "y", "z", "x"]
    assert [e.targets.shape[0] for e in eps[:3]] == [40, 30, 50]  # whole files

    with pytest.raises(ParameterError, match="did you mean 'corpus'"):
        TargetSource(mode="corpuss", grid_rows=packed_grid, corpus=packed)
    with pytest.raises(ParameterError, match="needs max_episode_steps"):
        TargetSource(mode="static_random", grid_rows=packed_grid)


def test_features_change_observation_and_reward(ws):
    a = setup_for(ws, features=["centroid"]).make_env(split="eval")
    b = setup_for(ws, features=["centroid", "pitch", "mfcc"]).make_env(split="eval")
    c = setup_for(ws, features=["centroid", "pitch", "mfcc"], features_reward=["pitch-hz"]).make_env(split="eval")
    # [synth (F), target (F), error (R), params (2)]; features_reward defaults to features
    assert a.observation_space.shape == (1 * 2 + 1 + 2,) and b.observation_space.shape == (17 * 2 + 17 + 2,)
    assert c.observation_space.shape == (17 * 2 + 1 + 2,)
    plain = setup_for(ws, features=["centroid"], observe_error=False).make_env(split="eval")
    assert plain.observation_space.shape == (1 * 2 + 2,)
    rewards = []
    for env in (a, b, c):
        env.reset(options={"file": HELD_OUT[0], "params": [0.2, 0.6]})
        rewards.append(env.step(4)[1])
    assert len(set(np.round(rewards, 9))) == 3


def test_active_only_and_held_out_split(ws):
    on = setup_for(ws, active_only=True)
    off = setup_for(ws, active_only=False)
    for stem in FILES:
        assert 0 < len(on.frames[stem]) < len(off.frames[stem])  # rests are dropped
    assert on.held_out_files == HELD_OUT and "c-high" not in on.train_files
    frac = setup_for(ws, held_out_files=None, held_out_fraction=0.5)
    assert frac.held_out_files == ["b-mid", "c-high"] and frac.train_files == ["a-low"]
    assert setup_for(ws, held_out_files=None, held_out_fraction=0.0).held_out_files == []
    with pytest.raises(ConfigError, match="did you mean 'b-mid'"):
        setup_for(ws, held_out_files=["b-mdi"])


def test_start_and_step_size_in_the_env(ws):
    env = setup_for(ws, step_size=0.1).make_env(split="eval")
    env.reset(options={"file": HELD_OUT[0]})
    assert_allclose(env.params, env.default_params)
    up = env.action_space.n - 1
    env.step(up)
    assert_allclose(env.params, np.minimum(env.default_params + 0.1, 1.0))
    train_env = setup_for(ws).make_env()
    starts = {tuple(np.round(train_env.reset(seed=s)[0][-2:], 6)) for s in range(5)}
    assert len(starts) == 5  # random starts in training


def test_nearest_halfway_rule_survives_float_drift_and_csv_roundtrip():
    grid = LookupGrid(np.arange(6 * D, dtype=float).reshape(6, D), n_params=1, subdiv=6)
    rng = np.random.default_rng(0)
    p = 0.5
    for _ in range(2000):  # a walk by +-0.2 from 0.5 keeps landing half-way between grid points
        p = p + rng.choice([-0.2, 0.2])
        if not 0.1 <= p <= 0.9:
            p = 0.5
        parsed = float(f"{p:.9g}")  # as written to and read from a trajectory CSV
        assert grid.index(np.array([p])) == grid.index(np.array([parsed]))
    assert grid.index(np.array([0.5])) == 3 and grid.index(np.array([0.7])) == 4  # half-way goes up
