"""One rule for scaling descriptors: z-scores with a table's statistics, 1 for what the table does not vary."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from rlimpro.descriptors import DESCRIPTORS
from rlimpro.descriptors.scaling import CONSTANT_RTOL, constant_columns, z_scale
from rlimpro.env.features import FeatureSpace
from rlimpro.errors import ParameterError
from rlimpro.timbremap.projection import Scaler


def _table(rng):
    """A table like fm's: level varying, peak level fixed but for 4.5e-5 dB of rounding, an exact constant."""
    return np.column_stack(
        [
            rng.normal(-9.0, 0.26, 1000),  # loudness that varies a little (0.26 dB)
            -6.02 + rng.normal(0.0, 4.5e-5, 1000),  # peak level: constant up to analysis rounding
            np.full(1000, 3.0),  # exactly constant
            rng.normal(0.5, 0.3, 1000),  # a chroma value
            rng.normal(0.0, 2e-3, 1000),  # small but varying around 0 (above 1e-3 * max(1, |mean|))
        ]
    )


def test_constant_columns_and_z_scale(rng=np.random.default_rng(0)):
    t = _table(rng)
    mean, std = t.mean(0), t.std(0)
    assert_array_equal(constant_columns(mean, std), [False, True, True, False, False])
    scale = z_scale(mean, std)
    assert_array_equal(scale[[1, 2]], [1.0, 1.0])
    assert_allclose(scale[[0, 3, 4]], std[[0, 3, 4]], rtol=0, atol=0)


@pytest.mark.parametrize("mean", [0.0, 0.5, -9.0, 360.0])
def test_the_threshold_scales_with_the_mean(mean):
    limit = CONSTANT_RTOL * max(1.0, abs(mean))
    assert constant_columns(np.array([mean]), np.array([limit]))[0]
    assert not constant_columns(np.array([mean]), np.array([limit * 1.01]))[0]


def test_env_and_timbre_map_scale_alike(rng=np.random.default_rng(1)):
    d = rng.normal(size=(300, len(DESCRIPTORS))) * 3 + 1
    d[:, 1] = -6.02 + rng.normal(0.0, 4.5e-5, 300)
    fs = FeatureSpace.from_lookup(d, features=["loudness"], features_reward=["loudness"], n_params=2)
    sc = Scaler.fit(d)
    assert_array_equal(fs.std, sc.std)
    assert fs.std[1] == 1.0
    # a frame 10 dB quieter at its peak is 10 z away, not 2e5
    frame = d[:1].copy()
    frame[0, 1] -= 10.0
    assert abs(sc.transform(frame)[0, 1] + 10.0) < 0.01


def test_a_stored_feature_space_keeps_its_scale():
    """Runs trained before the rule changed keep the std they were trained with."""
    d = np.random.default_rng(2).normal(size=(50, len(DESCRIPTORS)))
    fs = FeatureSpace.from_lookup(d, features=["loudness"], features_reward=["loudness"], n_params=2)
    data = fs.to_dict()
    data["std"][1] = 4.5e-5  # what the old rule kept for fm's peak level
    assert FeatureSpace.from_dict(data).std[1] == 4.5e-5


def test_a_feature_space_refuses_a_zero_std():
    std = np.ones(len(DESCRIPTORS))
    std[3] = 0.0
    with pytest.raises(ParameterError, match="std must be > 0"):
        FeatureSpace(features=["loudness"], features_reward=["loudness"], mean=np.zeros(len(DESCRIPTORS)), std=std, n_params=2)
