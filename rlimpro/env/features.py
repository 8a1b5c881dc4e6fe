"""The feature space: which descriptors the agent sees and is rewarded on, and how they are scaled.

One object turns raw descriptor vectors (every descriptor in :data:`~rlimpro.descriptors.DESCRIPTORS`
order, physical units) into what the policy sees. The training environment and the live stage both
build observations with it, so a policy sees the same numbers on stage as in training.

Scaling: z-scores with the lookup table's per-descriptor mean and standard deviation,
``z = (x - mean) / std``, clipped to ``±clip`` (default 10). A descriptor that is constant over the
lookup table (std below ``1e-3 * max(1, |mean|)``, e.g. the peak level of an FM synth with a fixed
amplitude) gets ``std = 1`` in its own unit (:func:`rlimpro.descriptors.scaling.z_scale`).

Observation (float32, shape ``(2 F + N,)``): ``[synth z (F), target z (F), synth parameters (N)]``
over the ``F`` observation features and the ``N`` synth parameters in [0, 1]. With ``error=True``
it also holds, after the target, the error the reward measures: ``(target - synth)`` of every reward
feature in distance units (weighted and masked as in the distance, clipped to ``±clip``), shape
``(2 F + R + N,)``. A z-scored pitch is a poor guide to tuning (a semitone is 0.05 of a table's
standard deviation for a sine); the error block gives the agent the semitones and decibels it is
scored on. With ``goal=True`` it also holds, before the parameters, the parameters of the lookup row
nearest to the target (the follower's choice, :class:`~rlimpro.env.players.Follower`), shape
``(2 F + E + 2 N,)``: a goal the agent may refine, smooth or distrust.

Distance (the reward's and the evaluation's metric): weighted RMSE between a candidate's and a
target's descriptor vectors over the reward features,
``d = sqrt(sum_i w_i m_i ((a_i - t_i) / u_i)^2 / sum_i w_i)``, where ``u_i`` is the descriptor's
distance unit. With ``units="perceptual"`` (:data:`~rlimpro.descriptors.scaling.PERCEPTUAL_UNITS`) a
semitone of pitch, 3 dB of level and a minor third of brightness each count 1 and are not clipped;
other descriptors count in table standard deviations, clipped to ``±clip``; the pitch descriptors count
only on frames where the target is pitched (``m_i = 0`` elsewhere: a breath has no note to follow);
and each descriptor's error counts at most :data:`ERROR_CAP` units (a note an octave off is as wrong as
one three octaves off, or as no note at all).
With ``units="table"`` (runs made before rlimpro 0.2) every ``u_i`` is the table's standard deviation,
every value is clipped and ``m_i = 1``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rlimpro.descriptors.registry import DESCRIPTORS, descriptor_index, expand_features
from rlimpro.descriptors.scaling import PERCEPTUAL_UNITS, PITCH_DESCRIPTORS, distance_unit, z_scale
from rlimpro.errors import MismatchError, ParameterError

Z_CLIP = 10.0  #: |z| is clipped to this many standard deviations
ERROR_CAP = 12.0  #: with perceptual units, a descriptor's error counts at most this many units


class FeatureSpace:
    """Selected descriptors, their z-scoring statistics, the observation layout and the distance.

    Parameters
    ----------
    features : sequence of str
        Observation features: descriptor or group names (expanded with
        :func:`~rlimpro.descriptors.expand_features`).
    features_reward : sequence of str
        Reward features (descriptor or group names).
    mean, std : ndarray, shape (len(DESCRIPTORS),)
        Per-descriptor mean and z-score divisor, physical units, canonical order; ``std`` > 0, as
        :func:`~rlimpro.descriptors.scaling.z_scale` makes it from a table's standard deviations
        (:meth:`from_lookup` does; a stored run's is used unchanged).
    n_params : int
        Number of synth parameters.
    reward_weights : mapping str -> float, optional
        Weight per reward descriptor (default 1). A group name sets every descriptor of the group.
    clip : float
        |z| bound, > 0.
    units : {"perceptual", "table"}
        Distance units (see the module docstring).
    error : bool
        Observe the reward features' error too (see the module docstring).
    goal : bool
        Observe the nearest lookup row's parameters too (see the module docstring).
    source : str
        Where the feature names come from, for error messages.

    Raises
    ------
    ParameterError
        Unknown feature names (with a suggestion), weights that are negative, all zero or name a
        descriptor that is not a reward feature, statistics of the wrong shape, a ``std`` <= 0.
    """

    def __init__(
        self,
        *,
        features: Sequence[str],
        features_reward: Sequence[str],
        mean: np.ndarray,
        std: np.ndarray,
        n_params: int,
        reward_weights: Mapping[str, float] | None = None,
        clip: float = Z_CLIP,
        units: str = "table",
        error: bool = False,
        goal: bool = False,
        source: str = "features",
    ):
        self.features: list[str] = expand_features(features, source=source)
        self.features_reward: list[str] = expand_features(features_reward, source=f"{source}_reward")
        mean = np.asarray(mean, dtype=np.float64)
        std = np.asarray(std, dtype=np.float64)
        if mean.shape != (len(DESCRIPTORS),) or std.shape != (len(DESCRIPTORS),):
            raise ParameterError(f"mean and std must have shape ({len(DESCRIPTORS)},), got {mean.shape} and {std.shape}")
        if not (np.isfinite(mean).all() and np.isfinite(std).all()):
            raise ParameterError("descriptor statistics must be finite")
        if not (std > 0).all():
            raise ParameterError("std must be > 0 for every descriptor: scale a table's statistics with z_scale")
        if n_params < 1:
            raise ParameterError(f"n_params {n_params} must be >= 1")
        if not clip > 0:
            raise ParameterError(f"clip {clip} must be > 0")
        self.mean = mean
        self.std = std  # as given: a stored run keeps the scale it was trained with
        self.n_params = int(n_params)
        self.clip = float(clip)
        self.obs_index = np.array([descriptor_index(n) for n in self.features], dtype=np.intp)
        self.reward_index = np.array([descriptor_index(n) for n in self.features_reward], dtype=np.intp)
        self.reward_weights = self._weights(reward_weights or {}, source=source)
        #: reward weights normalised to sum 1 (``d = sqrt(sum w (a - t)^2)``)
        self.reward_scale = np.sqrt(self.reward_weights / self.reward_weights.sum())
        self.units = units
        self.error = bool(error)
        self.goal = bool(goal)
        #: divisor of each descriptor in distances, shape (len(DESCRIPTORS),), the descriptor's unit
        self.distance_unit = distance_unit(mean, std, units=units)
        perceptual = np.array([units == "perceptual" and n in PERCEPTUAL_UNITS for n in DESCRIPTORS])
        self._reward_clip = np.where(perceptual, np.inf, self.clip)[self.reward_index]
        #: the largest error each weighted reward feature counts, shape (R,) (inf with table units)
        self.error_cap = (ERROR_CAP if units == "perceptual" else np.inf) * self.reward_scale
        #: positions, among the reward features, of the pitch descriptors masked on unpitched targets
        self.pitch_positions = np.array(
            [i for i, n in enumerate(self.features_reward) if units == "perceptual" and n in PITCH_DESCRIPTORS],
            dtype=np.intp,
        )

    def _weights(self, weights: Mapping[str, float], *, source: str) -> np.ndarray:
        from rlimpro.descriptors.registry import GROUPS
        from rlimpro.workspace import did_you_mean

        w = np.ones(len(self.features_reward))
        pos = {n: i for i, n in enumerate(self.features_reward)}
        for key, value in weights.items():
            names = GROUPS.get(key, (key,))
            if key not in GROUPS and key not in DESCRIPTORS:
                raise ParameterError(
                    f"{source}: reward_weights names '{key}', which is not a descriptor or group"
                    f"{did_you_mean(key, list(GROUPS) + list(DESCRIPTORS))}"
                )
            if not all(n in pos for n in names):
                raise ParameterError(
                    f"{source}: reward_weights names '{key}', which is not in features_reward "
                    f"({', '.join(self.features_reward)})"
                )
            if not (np.isfinite(value) and value >= 0):
                raise ParameterError(f"{source}: reward weight of '{key}' must be a finite number >= 0, got {value}")
            for n in names:
                w[pos[n]] = float(value)
        if w.sum() <= 0:
            raise ParameterError(f"{source}: every reward weight is 0; give at least one feature a positive weight")
        return w

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_lookup(
        cls,
        descriptors: np.ndarray,
        *,
        features: Sequence[str],
        features_reward: Sequence[str],
        n_params: int,
        reward_weights: Mapping[str, float] | None = None,
        clip: float = Z_CLIP,
        units: str = "table",
        error: bool = False,
        goal: bool = False,
        source: str = "features",
    ) -> FeatureSpace:
        """Statistics from a lookup table's descriptor block.

        Parameters
        ----------
        descriptors : ndarray, shape (rows, len(DESCRIPTORS))
            Raw descriptors of every grid point.
        """
        d = np.asarray(descriptors, dtype=np.float64)
        if d.ndim != 2 or d.shape[1] != len(DESCRIPTORS) or d.shape[0] < 2:
            raise ParameterError(f"lookup descriptors must have shape (rows >= 2, {len(DESCRIPTORS)}), got {d.shape}")
        return cls(
            features=features,
            features_reward=features_reward,
            mean=d.mean(axis=0),
            std=z_scale(d.mean(axis=0), d.std(axis=0)),
            n_params=n_params,
            reward_weights=reward_weights,
            clip=clip,
            units=units,
            error=error,
            goal=goal,
            source=source,
        )

    def to_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild this object (stored as ``feature_space.json`` in a run)."""
        return {
            "features": self.features,
            "features_reward": self.features_reward,
            "reward_weights": {n: float(w) for n, w in zip(self.features_reward, self.reward_weights, strict=True)},
            "n_params": self.n_params,
            "clip": self.clip,
            "units": self.units,
            "error": self.error,
            "goal": self.goal,
            "descriptors": list(DESCRIPTORS),
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpace:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        MismatchError
            The stored descriptor order is not this version's.
        """
        if list(data.get("descriptors", [])) != list(DESCRIPTORS):
            raise MismatchError("the stored feature space was made with another descriptor list; retrain the model")
        return cls(
            features=data["features"],
            features_reward=data["features_reward"],
            reward_weights=data.get("reward_weights"),
            mean=np.asarray(data["mean"]),
            std=np.asarray(data["std"]),
            n_params=int(data["n_params"]),
            clip=float(data.get("clip", Z_CLIP)),
            units=str(data.get("units", "table")),
            error=bool(data.get("error", False)),
            goal=bool(data.get("goal", False)),
        )

    # ------------------------------------------------------------------ scaling
    @property
    def n_features(self) -> int:
        """F, the number of observation features."""
        return len(self.features)

    @property
    def n_error(self) -> int:
        """E, the size of the error block: R with ``error=True``, else 0."""
        return len(self.reward_index) if self.error else 0

    @property
    def n_goal(self) -> int:
        """G, the size of the goal block: N with ``goal=True``, else 0."""
        return self.n_params if self.goal else 0

    @property
    def observation_size(self) -> int:
        """``2 F + E + G + N``."""
        return 2 * self.n_features + self.n_error + self.n_goal + self.n_params

    def observation_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """``(low, high)``, float32, shape (2 F + E + G + N,): ``±clip`` for descriptors and errors, [0, 1]
        for parameters (goal and synth)."""
        d, n = 2 * self.n_features + self.n_error, self.n_goal + self.n_params
        low = np.concatenate([np.full(d, -self.clip), np.zeros(n)]).astype(np.float32)
        high = np.concatenate([np.full(d, self.clip), np.ones(n)]).astype(np.float32)
        return low, high

    def observation_space(self):
        """The gymnasium ``Box`` of observations."""
        from gymnasium import spaces

        low, high = self.observation_bounds()
        return spaces.Box(low=low, high=high, dtype=np.float32)

    def zscore(self, raw: np.ndarray) -> np.ndarray:
        """Clipped z-scores of every descriptor.

        Parameters
        ----------
        raw : ndarray, shape (..., len(DESCRIPTORS))

        Returns
        -------
        ndarray, shape (..., len(DESCRIPTORS)), float64, within ``±clip``
        """
        raw = np.asarray(raw, dtype=np.float64)
        if raw.shape[-1] != len(DESCRIPTORS):
            raise ParameterError(f"descriptor vectors must have {len(DESCRIPTORS)} columns, got shape {raw.shape}")
        return np.clip((raw - self.mean) / self.std, -self.clip, self.clip)

    def obs_features(self, raw: np.ndarray) -> np.ndarray:
        """Clipped z-scores of the observation features, shape (..., F)."""
        return self.zscore(raw)[..., self.obs_index]

    def reward_features(self, raw: np.ndarray) -> np.ndarray:
        """The reward features in distance units times ``sqrt(normalised weight)``, shape (..., R).

        ``(raw - mean) / distance_unit``, clipped to ``±clip`` where the unit is a table standard
        deviation. The masked (:meth:`reward_mask`) Euclidean norm of a difference of two such vectors
        is :meth:`distance`.
        """
        raw = np.asarray(raw, dtype=np.float64)
        if raw.shape[-1] != len(DESCRIPTORS):
            raise ParameterError(f"descriptor vectors must have {len(DESCRIPTORS)} columns, got shape {raw.shape}")
        i = self.reward_index
        scaled = (raw[..., i] - self.mean[i]) / self.distance_unit[i]
        return np.clip(scaled, -self._reward_clip, self._reward_clip) * self.reward_scale

    def reward_mask(self, target: np.ndarray) -> np.ndarray:
        """Which reward features count for each target frame, shape (..., R), float 0/1: the pitch
        descriptors do not count where the target is not pitched (``units="perceptual"`` only).

        Parameters
        ----------
        target : ndarray, shape (..., len(DESCRIPTORS))
            Raw descriptors of target frames.
        """
        from rlimpro.descriptors.derived import is_pitched

        target = np.asarray(target, dtype=np.float64)
        mask = np.ones((*target.shape[:-1], len(self.reward_index)))
        if self.pitch_positions.size:
            mask[..., self.pitch_positions] = is_pitched(target)[..., None]
        return mask

    def packed(self, raw: np.ndarray) -> np.ndarray:
        """``[obs_features, reward_features]``, shape (..., F + R): the environment's per-row table."""
        return np.concatenate([self.obs_features(raw), self.reward_features(raw)], axis=-1)

    def packed_gates(self) -> dict[str, list]:
        """The ``pitch-midi`` columns of :meth:`packed` rows and their unpitched values, for a
        :class:`~rlimpro.env.synth_model.LookupGrid` that interpolates them over pitched rows only."""
        from rlimpro.descriptors.derived import UNPITCHED

        raw = np.zeros(len(DESCRIPTORS))
        col = descriptor_index("pitch-midi")
        raw[col] = UNPITCHED
        packed = self.packed(raw)
        cols = [i for i, d in enumerate(self.obs_index) if d == col]
        cols += [len(self.obs_index) + i for i, d in enumerate(self.reward_index) if d == col]
        return {"gated": cols, "unvoiced": [float(packed[c]) for c in cols]}

    def packed_target(self, raw: np.ndarray) -> np.ndarray:
        """``[obs_features, reward_features, reward_mask]``, shape (..., F + 2 R): a target row."""
        return np.concatenate([self.packed(raw), self.reward_mask(raw)], axis=-1)

    def error_features(self, synth_reward: np.ndarray, target_reward: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The observed error ``(target - synth) * mask``, clipped to ``±clip``, shape (..., R).

        Parameters
        ----------
        synth_reward, target_reward : ndarray, shape (..., R)
            :meth:`reward_features` of the synth and of the target.
        mask : ndarray, shape (..., R)
            :meth:`reward_mask` of the target.
        """
        return np.clip((target_reward - synth_reward) * mask, -self.clip, self.clip)

    def observation(self, *, synth: np.ndarray, target: np.ndarray, params: np.ndarray, goal: np.ndarray | None = None) -> np.ndarray:
        """One observation from raw descriptor vectors.

        Parameters
        ----------
        synth : ndarray, shape (len(DESCRIPTORS),)
            The synth's raw descriptors.
        target : ndarray, shape (len(DESCRIPTORS),)
            The target's (musician's) raw descriptors.
        params : ndarray, shape (N,)
            Synth parameters in [0, 1].
        goal : ndarray, shape (N,), optional
            The nearest lookup row's parameters (required with ``goal=True``).

        Returns
        -------
        ndarray, shape (2 F + E + G + N,), float32
        """
        params = np.asarray(params, dtype=np.float64)
        if params.shape != (self.n_params,):
            raise ParameterError(f"params must have shape ({self.n_params},), got {params.shape}")
        parts = [self.obs_features(synth), self.obs_features(target)]
        if self.error:
            parts.append(self.error_features(self.reward_features(synth), self.reward_features(target), self.reward_mask(target)))
        if self.goal:
            if goal is None or np.shape(goal) != (self.n_params,):
                raise ParameterError(f"this feature space observes a goal: give goal of shape ({self.n_params},)")
            parts.append(np.clip(np.asarray(goal, dtype=np.float64), 0.0, 1.0))
        parts.append(np.clip(params, 0.0, 1.0))
        return np.concatenate(parts).astype(np.float32)

    def distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Weighted RMSE over the reward features, in distance units, of candidates ``a`` to targets ``b``.

        Parameters
        ----------
        a : ndarray, shape (..., len(DESCRIPTORS))
            Raw descriptor vectors of the candidate (the synth).
        b : ndarray, shape (..., len(DESCRIPTORS))
            Raw descriptor vectors of the target (broadcastable with ``a``); its pitchedness masks
            the pitch descriptors (:meth:`reward_mask`).

        Returns
        -------
        ndarray, shape (...,), >= 0
        """
        diff = self.capped((self.reward_features(a) - self.reward_features(b)) * self.reward_mask(b))
        return np.sqrt(np.sum(diff * diff, axis=-1))

    def capped(self, diff: np.ndarray) -> np.ndarray:
        """Masked differences of reward features with each error capped at :attr:`error_cap`, shape (..., R)."""
        return np.clip(diff, -self.error_cap, self.error_cap)
