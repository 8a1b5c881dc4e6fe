"""The players of an imitation evaluation: follower, floor, fixed, the movement limit, the timeline."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from rlimpro.descriptors.registry import DESCRIPTORS, descriptor_index
from rlimpro.env import FeatureSpace
from rlimpro.env import players as pl
from rlimpro.errors import ParameterError

D = len(DESCRIPTORS)
PITCH, CONF, HZ, LOUD = (descriptor_index(n) for n in ("pitch-midi", "pitch-confidence", "pitch-hz", "loudness-dBFS"))


def frames(midi, loud, *, pitched=True):
    """Raw frames with the given notes and levels (pitched or not)."""
    x = np.zeros((len(midi), D))
    x[:, PITCH] = np.where(pitched, midi, 0.0)
    x[:, HZ] = 440.0 * 2 ** ((np.asarray(midi, dtype=float) - 69) / 12)
    x[:, CONF] = 0.95 if pitched else 0.2
    x[:, LOUD] = loud
    return x


def space(rows):
    return FeatureSpace.from_lookup(rows, features=["pitch-midi"], features_reward=["pitch-midi", "loudness-dBFS"],
                                    n_params=2, units="perceptual")


def test_follower_and_floor_by_hand():
    # 4 lookup rows: notes 60 and 72 at -20 and -8 dBFS
    rows = frames([60, 60, 72, 72], [-20, -8, -20, -8])
    params = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    fs = space(rows)
    targets = frames([61, 71, 65.5], [-19, -9, -8])
    follower = pl.Follower(fs, rows, params)
    assert follower.rows(targets).tolist() == [0, 3, 1]  # 65.5 at -8 dB: row 1 (60, -8)
    # the distance in units: 1 semitone = 1, 3 dB = 1, weights 1/2 each: d = sqrt((dp^2 + (dl/3)^2) / 2)
    rows_nn, dist = pl.nearest_rows(fs, rows, targets)
    assert rows_nn.tolist() == [0, 3, 1]
    assert_allclose(dist, np.sqrt([(1 + (1 / 3) ** 2) / 2, (1 + (1 / 3) ** 2) / 2, (5.5**2 + 0) / 2]), rtol=1e-12)


def test_unpitched_targets_match_on_the_other_features():
    rows = frames([60, 60, 72, 72], [-20, -8, -20, -8])
    params = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    fs = space(rows)
    breath = frames([90], [-19], pitched=False)  # no note: only the level counts
    _, dist = pl.nearest_rows(fs, rows, breath)
    assert_allclose(dist, [np.sqrt((1 / 3) ** 2 / 2)], rtol=1e-12)
    assert pl.Follower(fs, rows, params).rows(breath)[0] in (0, 2)  # -20 dB, either note


def test_error_cap_counts_a_far_note_as_an_octave():
    rows = frames([40], [-20])
    fs = FeatureSpace.from_lookup(np.vstack([rows, frames([41], [-20])]), features=["pitch-midi"],
                                  features_reward=["pitch-midi"], n_params=1, units="perceptual")
    d = fs.distance(rows, frames([80], [-20]))
    assert_allclose(d, [12.0], rtol=1e-12)  # 40 semitones off counts 12


def test_nearest_rows_equal_brute_force_on_random_tables():
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(50, D)) * 5 + 60
    rows[:, CONF] = rng.uniform(0.5, 1.0, 50)
    rows[:, PITCH] = np.where(rows[:, CONF] >= 0.8, rng.uniform(40, 90, 50), 0.0)
    fs = FeatureSpace.from_lookup(rows, features=["mfcc"], features_reward=["pitch-midi", "mfcc-1", "loudness-dBFS"],
                                  n_params=2, units="perceptual")
    targets = rows[rng.integers(0, 50, 40)] + rng.normal(size=(40, D))
    targets[:, CONF] = rng.uniform(0.5, 1.0, 40)
    every = np.array([[fs.distance(rows[r], t) for r in range(50)] for t in targets])
    got_rows, dist = pl.nearest_rows(fs, rows, targets)
    assert_allclose(dist, every.min(axis=1), rtol=1e-9)
    fixed = pl.best_fixed_row(fs, rows, [targets[:25], targets[25:]])
    assert fixed == int(np.argmin(every.sum(axis=0)))


def test_limited_timeline_and_movement_by_hand():
    path = np.array([[1.0, 0.0], [1.0, 0.0], [0.5, 0.5]])
    got = pl.limited(path, start=np.array([0.5, 0.5]), step=0.2)
    assert_allclose(got, [[0.7, 0.3], [0.9, 0.1], [0.7, 0.3]], atol=1e-12)
    active = np.array([False, True, True, False, True])
    tl = pl.timeline(got, active=active, start=np.array([0.5, 0.5]))
    assert_allclose(tl, [[0.5, 0.5], [0.7, 0.3], [0.9, 0.1], [0.9, 0.1], [0.7, 0.3]], atol=1e-12)
    # movement over the active frames: hops into frames 1, 2 and 4: mean |dp| 0.2, 0.2, 0.2
    assert pl.movement(tl, active=active, start=np.array([0.5, 0.5])) == pytest.approx(0.2)
    with pytest.raises(ParameterError, match="3 decisions for 2 active frames"):
        pl.timeline(got, active=np.array([True, True, False]), start=np.zeros(2))
    with pytest.raises(ParameterError, match="step"):
        pl.limited(path, start=np.zeros(2), step=0.0)
