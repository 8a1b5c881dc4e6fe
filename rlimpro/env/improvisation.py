"""The gymnasium environment: steer the synth's parameters so that its descriptors follow a target.

Per step ``t`` (see DESIGN.md "The environment"):

1. the action moves the parameters (:mod:`rlimpro.env.actions`), clipped to [0, 1];
2. the synth's descriptors at the new parameters come from the lookup grid (:mod:`rlimpro.env.synth_model`,
   nearest or multilinear, O(1));
3. the reward compares them with target ``t`` — the frame the agent observed when it acted — by the
   weighted RMSE over ``features_reward`` in distance units (:meth:`FeatureSpace.distance`), shaped by
   ``reward_type`` (:mod:`rlimpro.env.rewards`), minus ``movement_penalty`` times the mean absolute
   parameter change of the step (in [0, 1] parameter units);
4. the next observation is ``[synth z, target t+1 z, (error), parameters]`` (float32, bounded; see
   :class:`~rlimpro.env.features.FeatureSpace`).

Episodes are truncated (never terminated: tracking has no terminal state) at the end of the episode's
targets: ``max_episode_steps`` steps, or a whole corpus file when that is ``None``. ``info["distance"]``
is the step's RMSE, the quantity the evaluation averages.

Reset options: ``{"file": stem}`` plays that corpus file whole from its first frame;
``{"params": [...]}`` starts from those parameters (default: uniform random in training,
``default_params`` when ``start="default"``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from rlimpro.env.actions import ActionMap
from rlimpro.env.features import FeatureSpace
from rlimpro.env.rewards import Reward
from rlimpro.env.synth_model import LookupGrid
from rlimpro.env.targets import Episode, TargetSource
from rlimpro.errors import ParameterError


class ImprovisationEnv(gym.Env):
    """Imitate target descriptor frames by moving synth parameters.

    Parameters
    ----------
    grid : LookupGrid
        Raw descriptors (all of DESCRIPTORS) of every lookup grid point; its ``interpolation`` is
        used unless ``interpolation`` is given.
    feature_space : FeatureSpace
        Observation and reward features with their z-scoring.
    corpus : mapping str -> ndarray (frames, len(DESCRIPTORS)), optional
        Raw descriptor frames of each corpus file to imitate (inactive frames already removed).
    training_mode : str
        See :mod:`rlimpro.env.targets`.
    action_type : {"discrete", "continuous", "absolute"}
    step_size : float
        Parameter change per step (incremental action types).
    reward : Reward, optional
        Default ``Reward("linear")``.
    movement_penalty : float
        Subtracted from the reward per unit of mean absolute parameter change in a step (>= 0): a
        follower that does not jitter sounds steadier than one that chases every frame.
    interpolation : {"nearest", "multilinear"}, optional
    max_episode_steps : int or None
        Episode length; ``None`` plays corpus files whole.
    target_change_prob, corpus_fraction : float
        See :class:`~rlimpro.env.targets.TargetSource`.
    corpus_order : {"random", "cycle"}
        Draw corpus files at random (training) or play them whole in turn (evaluation).
    start : {"random", "default"}
        Initial parameters of an episode: uniform random, or ``default_params``.
    default_params : array-like, shape (N,), optional
        The synth's default parameters (default 0.5 each).
    render_mode : None
        No rendering; listen with ``rlimpro live``.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        *,
        grid: LookupGrid,
        feature_space: FeatureSpace,
        corpus: Mapping[str, np.ndarray] | None = None,
        training_mode: str = "corpus",
        action_type: str = "discrete",
        step_size: float = 0.05,
        reward: Reward | None = None,
        movement_penalty: float = 0.0,
        interpolation: str | None = None,
        max_episode_steps: int | None = 256,
        target_change_prob: float = 0.02,
        corpus_fraction: float = 0.5,
        corpus_order: str = "random",
        start: str = "random",
        default_params: np.ndarray | None = None,
        render_mode: str | None = None,
    ):
        super().__init__()
        if render_mode is not None:
            raise ParameterError(f"render_mode {render_mode!r}: this environment does not render (use rlimpro live)")
        if feature_space.n_params != grid.n_params:
            raise ParameterError(
                f"feature space has {feature_space.n_params} parameters, the lookup grid {grid.n_params}"
            )
        if start not in ("random", "default"):
            raise ParameterError(f"start '{start}': choose random or default")
        self.render_mode = None
        self.feature_space = feature_space
        self.n_params = grid.n_params
        self.raw_grid = grid if interpolation is None else LookupGrid.of_descriptors(
            grid.values, n_params=grid.n_params, subdiv=grid.subdiv, interpolation=interpolation  # type: ignore[arg-type]
        )
        #: packed z rows ([obs features, weighted reward features]) on the same grid, pitch-midi gated
        self.model = self.raw_grid.with_values(feature_space.packed(grid.values), **feature_space.packed_gates())
        self.actions = ActionMap(action_type, n_params=self.n_params, step_size=step_size)
        self.reward_fn = reward or Reward("linear")
        if not (math.isfinite(movement_penalty) and movement_penalty >= 0):
            raise ParameterError(f"movement_penalty {movement_penalty} must be a finite number >= 0")
        self.movement_penalty = float(movement_penalty)
        grid_targets = feature_space.packed_target(grid.values)
        packed_corpus = {stem: feature_space.packed_target(frames) for stem, frames in (corpus or {}).items() if len(frames)}
        if feature_space.goal:  # the follower's parameters of every target frame, computed once
            from rlimpro.env.players import Follower

            follower = Follower(feature_space, grid.values, grid.grid_params())
            grid_targets = np.concatenate([grid_targets, grid.grid_params()], axis=1)
            packed_corpus = {stem: np.concatenate([rows, follower.params(corpus[stem])], axis=1) for stem, rows in packed_corpus.items()}
        self.targets = TargetSource(
            mode=training_mode,
            grid_rows=grid_targets,
            corpus=packed_corpus,
            episode_steps=max_episode_steps,
            change_prob=target_change_prob,
            corpus_fraction=corpus_fraction,
            order=corpus_order,  # type: ignore[arg-type]
        )
        self.start = start
        if default_params is None:
            default_params = np.full(self.n_params, 0.5)
        self.default_params = np.clip(np.asarray(default_params, dtype=np.float64), 0.0, 1.0)
        if self.default_params.shape != (self.n_params,):
            raise ParameterError(f"default_params must have shape ({self.n_params},), got {self.default_params.shape}")

        self.action_space = self.actions.space()
        self.observation_space = feature_space.observation_space()
        self._f = feature_space.n_features
        self._r = len(feature_space.reward_index)
        self._e = feature_space.n_error
        self._g = feature_space.n_goal
        self._obs_size = feature_space.observation_size
        self.params = self.default_params.copy()
        self.episode: Episode | None = None
        self._t = 0
        self._len = 0
        self._synth = self.model(self.params)

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        self.episode = self.targets.episode(self.np_random, file=options.get("file"))
        if "params" in options and options["params"] is not None:
            p = np.asarray(options["params"], dtype=np.float64)
            if p.shape != (self.n_params,) or not np.isfinite(p).all():
                raise ParameterError(f"options['params'] must be {self.n_params} finite numbers in [0, 1], got {p!r}")
            self.params = np.clip(p, 0.0, 1.0)
        elif self.start == "default" or options.get("file") is not None:
            self.params = self.default_params.copy()
        else:
            self.params = self.np_random.random(self.n_params)
        self._t = 0
        self._len = self.episode.targets.shape[0]
        self._synth = self.model(self.params)
        info = {"mode": self.episode.mode, "file": self.episode.file, "start": self.episode.start}
        return self._observation(self.episode.targets[0]), info

    def step(self, action):
        if self.episode is None:
            raise ParameterError("call reset() before step()")
        previous = self.params
        self.params = p = self.actions.apply(previous, action)
        self._synth = synth = self.model(p)
        f, r = self._f, self._r
        target = self.episode.targets[self._t]
        diff = self.feature_space.capped((synth[f:] - target[f : f + r]) * target[f + r : f + 2 * r])
        distance = math.sqrt(float(np.dot(diff, diff)))
        reward = self.reward_fn(distance)
        if self.movement_penalty:
            reward -= self.movement_penalty * float(np.mean(np.abs(p - previous)))
        self._t += 1
        truncated = self._t >= self._len
        obs = self._observation(self.episode.targets[self._len - 1 if truncated else self._t])
        return obs, reward, False, truncated, {"distance": distance}

    def _observation(self, target: np.ndarray) -> np.ndarray:
        """``target``: a packed target row ``[obs F, reward R, mask R, (goal N)]``."""
        f, r, e, g = self._f, self._r, self._e, self._g
        obs = np.empty(self._obs_size, dtype=np.float32)
        obs[:f] = self._synth[:f]
        obs[f : 2 * f] = target[:f]
        if e:
            obs[2 * f : 2 * f + e] = self.feature_space.error_features(self._synth[f:], target[f : f + r], target[f + r : f + 2 * r])
        if g:
            obs[2 * f + e : 2 * f + e + g] = target[f + 2 * r :]
        obs[2 * f + e + g :] = self.params
        return obs

    # ------------------------------------------------------------------ helpers
    def synth_descriptors(self) -> np.ndarray:
        """Raw descriptors (all of DESCRIPTORS) of the synth at the current parameters, shape (D,)."""
        return self.raw_grid(self.params)
