"""Observations and distances of the cross-adaptive task, on top of :class:`~rlimpro.env.features.FeatureSpace`.

Observation (float32, bounded Box) = ``[dry source z (F), processed z (F), target z (F), parameters (N)]``:
the source as it comes in, the processed signal as the effects last left it, the target to follow
(all z-scored and clipped like every rlimpro observation) and the effect parameters. The distance is
FeatureSpace's: the weighted RMSE in z space over ``features_reward``, the reward's and the
evaluation's metric.

The z statistics pool the training material: target frames, dry source frames, and source frames
processed with random parameter settings (a random setting every 0.25 s), so every descriptor the
agent can produce or must follow has a sensible scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rlimpro.descriptors.analyzer import Analyzer
from rlimpro.env.features import FeatureSpace
from rlimpro.errors import ParameterError


class CrossFeatures:
    """The observation layout over a :class:`FeatureSpace` whose ``n_params`` is the chain's.

    Parameters
    ----------
    feature_space : FeatureSpace
    """

    def __init__(self, feature_space: FeatureSpace):
        self.feature_space = feature_space
        self.n_features = feature_space.n_features
        self.n_params = feature_space.n_params

    @property
    def observation_size(self) -> int:
        """``3 F + N``."""
        return 3 * self.n_features + self.n_params

    def observation_space(self):
        """``Box(±clip for descriptors, [0, 1] for parameters)``, float32."""
        from gymnasium import spaces

        f, n, c = self.n_features, self.n_params, self.feature_space.clip
        low = np.concatenate([np.full(3 * f, -c), np.zeros(n)]).astype(np.float32)
        high = np.concatenate([np.full(3 * f, c), np.ones(n)]).astype(np.float32)
        return spaces.Box(low=low, high=high, dtype=np.float32)

    def observation(self, *, dry: np.ndarray, processed: np.ndarray, target: np.ndarray, params: np.ndarray) -> np.ndarray:
        """One observation from raw descriptor vectors (shape (len(DESCRIPTORS),) each) and params (N,).

        Returns
        -------
        ndarray, shape (3 F + N,), float32
        """
        p = np.asarray(params, dtype=np.float64)
        if p.shape != (self.n_params,):
            raise ParameterError(f"params must have shape ({self.n_params},), got {p.shape}")
        fs = self.feature_space
        return np.concatenate(
            [fs.obs_features(dry), fs.obs_features(processed), fs.obs_features(target), np.clip(p, 0.0, 1.0)]
        ).astype(np.float32)

    def distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Weighted z-space RMSE over the reward features, shape (...,)."""
        return self.feature_space.distance(a, b)


def material_statistics(
    pairs: Sequence[Any], *, chain_spec: list, ramp: int, analyzer: Analyzer, seed: int = 0,
    frames: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-descriptor mean and std pooled over targets, dry sources and randomly processed sources.

    Parameters
    ----------
    pairs : sequence of Pair
        Training pairs.
    chain_spec : list
        The effect chain (config list).
    ramp : int
        Ramp, samples.
    analyzer : Analyzer
    seed : int
        Seed of the random parameter settings.
    frames : mapping name -> (dry frames, target frames), optional
        Already analyzed frames (else analyzed here).

    Returns
    -------
    mean, std : ndarray, shape (len(DESCRIPTORS),)
    """
    from rlimpro.effects.chain import EffectChain

    rng = np.random.default_rng(seed)
    hop = analyzer.settings.hop
    sr = analyzer.settings.sample_rate
    blocks_per_setting = max(1, int(round(0.25 * sr / hop)))
    pooled = []
    for pair in pairs:
        if frames is not None and pair.name in frames:
            dry, tgt = frames[pair.name]
        else:
            dry, tgt = analyzer.analyze(pair.source), analyzer.analyze(pair.target)
        chain = EffectChain.from_spec(chain_spec, sample_rate=sr, ramp=ramp)
        n_blocks = -(-pair.source.size // hop)
        settings = rng.random((-(-n_blocks // blocks_per_setting), chain.n_params))
        params = np.repeat(settings, blocks_per_setting, axis=0)[:n_blocks]
        processed = analyzer.analyze(chain.render(pair.source, params, block=hop))
        pooled += [tgt, dry, processed]
    allf = np.concatenate(pooled)
    return allf.mean(axis=0), allf.std(axis=0)
