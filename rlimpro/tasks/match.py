"""The ``match`` task: refine the synth's parameters step by step until its sound matches a target.

Registered as ``rlimpro/Match-v0``. Every step renders a sound with the synth engine (native, or Pd
through its batch renderer), so there is no lookup table:

1. ``reset`` draws a target (:class:`~rlimpro.tasks.targets.TargetPool`), sets the controls (uniform
   random in training, the synth's defaults in evaluation, or ``options["controls"]``) and renders
   the starting sound (one render);
2. ``step`` moves the controls (:mod:`rlimpro.tasks.actions`), renders ``duration`` s and measures
   the distance to the target (:class:`~rlimpro.tasks.listener.Listener`: descriptors or multi-scale
   spectral); the reward is the config's reward shape of that distance
   (:class:`~rlimpro.env.rewards.Reward`);
3. the episode terminates when the distance is at or below ``threshold``; the step then also pays the
   reward of the remaining steps (as if the agent stayed there), so that reaching the threshold early is
   worth as much as holding it to the end; otherwise it is truncated after ``max_steps`` steps.

Observation, by ``observation``: ``descriptors`` — ``[sound z (F), target z (F), controls (M)]``
(float32, the feature space's z-scores), or ``spectrogram`` — the uint8 log-mel images of the sound and
the target stacked as 2 channels, shape (2, n_mels, n_frames), for a CNN feature extractor.

``info``: ``distance`` (after the step), ``best_distance`` (over the episode), ``renders`` (since reset,
including the starting sound), ``params`` (engine parameters), ``target`` (name).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rlimpro.env.rewards import Reward
from rlimpro.errors import ParameterError
from rlimpro.tasks.actions import ControlActions
from rlimpro.tasks.listener import Heard, Listener
from rlimpro.tasks.specs import ActionLayout
from rlimpro.tasks.targets import Target, TargetPool


class SoundTaskEnv(gym.Env):
    """What the match and sequence environments share: renderer, controls, listener, targets."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, *, renderer, layout: ActionLayout, listener: Listener, targets: TargetPool, sample_rate: int,
                 reward: Reward | None, actions: ControlActions, render_mode: str | None = None):
        super().__init__()
        if render_mode is not None:
            raise ParameterError(f"render_mode {render_mode!r}: this environment does not render (listen to the saved audio)")
        if renderer.spec.n_params != layout.n_params:
            raise ParameterError(f"the renderer takes {renderer.spec.n_params} parameters, the action layout {layout.n_params}")
        self.render_mode = None
        self.renderer = renderer
        self.layout = layout
        self.listener = listener
        self.targets = targets
        self.sample_rate = int(sample_rate)
        self.reward_fn = reward or Reward("linear")
        self.actions = actions
        self.action_space = actions.space()
        self.n_controls = layout.n_controls
        self.renders = 0  # renders since reset
        self.total_renders = 0
        self._heard_cache: dict[int, Any] = {}

    def _render(self, params: np.ndarray, seconds: float) -> np.ndarray:
        """Render engine parameters (B, N) for ``seconds`` s; counts the renders."""
        audio = self.renderer.render(params, duration=seconds, sample_rate=self.sample_rate)
        self.renders += params.shape[0]
        self.total_renders += params.shape[0]
        return audio

    def _descriptor_box(self, extra: int = 0):
        from gymnasium import spaces

        low, high = self.listener.feature_space.observation_bounds()  # type: ignore[union-attr]
        if extra:
            low = np.concatenate([low, np.zeros(extra, dtype=np.float32)])
            high = np.concatenate([high, np.ones(extra, dtype=np.float32)])
        return spaces.Box(low=low, high=high, dtype=np.float32)

    def _image_box(self):
        from gymnasium import spaces

        shape = (2, *self.listener.image.shape)  # type: ignore[union-attr]
        return spaces.Box(low=0, high=255, shape=shape, dtype=np.uint8)

    def _pick_target(self, options: dict[str, Any]) -> Target:
        if options.get("target") is not None:
            return self.targets.pick(options["target"])
        return self.targets.draw(self.np_random)

    def _start_controls(self, options: dict[str, Any], start: str) -> np.ndarray:
        if options.get("controls") is not None:
            u = np.asarray(options["controls"], dtype=np.float64)
            if u.shape != (self.n_controls,) or not np.isfinite(u).all():
                raise ParameterError(f"options['controls'] must be {self.n_controls} finite numbers in [0, 1], got {u!r}")
            return self.layout.quantize(u)
        if start == "default":
            return self.layout.quantize(self.layout.default_controls())
        return self.layout.quantize(self.np_random.random(self.n_controls))


class MatchEnv(SoundTaskEnv):
    """Match one target sound by refining the synth's controls (see the module docstring).

    Parameters
    ----------
    renderer : Renderer
        ``make_renderer(spec)``: a native engine or :class:`~rlimpro.pd.engine.PdEngine`.
    layout : ActionLayout
    listener : Listener
        For sounds of ``round(duration * sample_rate)`` samples.
    targets : TargetPool
        Target sounds of that length.
    duration : float
        Seconds per rendered sound.
    sample_rate : int
        Hz.
    reward : Reward, optional
        Reward shape of the distance (default linear).
    max_steps : int
        Refinement steps per episode, >= 1.
    threshold : float, optional
        Distance at or below which the episode ends (None: never early).
    action_mode : {"incremental", "absolute"}
    step_size : float
        Incremental continuous actions: control change at full action.
    start : {"random", "default"}
        Controls at reset: uniform random (training) or the synth's defaults (evaluation).
    render_mode : None
    """

    def __init__(self, *, renderer, layout: ActionLayout, listener: Listener, targets: TargetPool, duration: float, sample_rate: int,
                 reward: Reward | None = None, max_steps: int = 20, threshold: float | None = None, action_mode: str = "incremental",
                 step_size: float = 0.1, start: str = "random", render_mode: str | None = None):
        super().__init__(renderer=renderer, layout=layout, listener=listener, targets=targets, sample_rate=sample_rate, reward=reward,
                         actions=ControlActions(layout, mode=action_mode, step_size=step_size), render_mode=render_mode)
        if max_steps < 1:
            raise ParameterError(f"max_steps {max_steps} must be >= 1")
        if threshold is not None and not threshold > 0:
            raise ParameterError(f"threshold {threshold} must be > 0")
        if start not in ("random", "default"):
            raise ParameterError(f"start '{start}': choose random or default")
        n = int(round(duration * sample_rate))
        if n != listener.n_samples:
            raise ParameterError(f"the listener expects {listener.n_samples} samples, {duration} s at {sample_rate} Hz is {n}")
        self.duration = float(duration)
        self.max_steps = int(max_steps)
        self.threshold = threshold
        self.start = start
        self.observation_space = self._image_box() if listener.observation_kind == "spectrogram" else self._descriptor_box()
        self.controls = self.layout.quantize(self.layout.default_controls())
        self.target: Target | None = None
        self._target_heard: Heard | None = None
        self._heard: Heard | None = None
        self.audio: np.ndarray | None = None
        self.distance = float("nan")
        self.best_distance = float("nan")
        self._t = 0

    def _listen_target(self, target: Target) -> Heard:
        key = id(target)
        if not any(t is target for t in self.targets.fixed):  # a fresh random target: heard once
            return self.listener.listen(target.audio)
        if key not in self._heard_cache:
            self._heard_cache[key] = self.listener.listen(target.audio)
        return self._heard_cache[key]

    def _sound(self) -> None:
        params = self.layout.to_engine(self.controls)
        self.audio = self._render(params[None, :], self.duration)[0]
        self._heard = self.listener.listen(self.audio)
        self.distance = self.listener.distance(self._heard, self._target_heard)  # type: ignore[arg-type]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        self.target = self._pick_target(options)
        self._target_heard = self._listen_target(self.target)
        self.controls = self._start_controls(options, self.start)
        self.renders = 0
        self._t = 0
        self._sound()
        self.best_distance = self.distance
        return self._observation(), {"target": self.target.name, "distance": self.distance, "renders": self.renders}

    def step(self, action):
        if self.target is None:
            raise ParameterError("call reset() before step()")
        self.controls = self.actions.apply(self.controls, action)
        self._sound()
        self._t += 1
        self.best_distance = min(self.best_distance, self.distance)
        reward = self.reward_fn(self.distance)
        terminated = self.threshold is not None and self.distance <= self.threshold
        if terminated:
            reward *= 1 + (self.max_steps - self._t)
        truncated = not terminated and self._t >= self.max_steps
        info = {
            "distance": self.distance, "best_distance": self.best_distance, "renders": self.renders,
            "params": self.layout.to_engine(self.controls), "target": self.target.name,
        }
        return self._observation(), float(reward), bool(terminated), bool(truncated), info

    def _observation(self) -> np.ndarray:
        if self.listener.observation_kind == "spectrogram":
            return np.stack([self._heard.image, self._target_heard.image])  # type: ignore[union-attr,list-item]
        fs = self.listener.feature_space
        return fs.observation(synth=self._heard.descriptors, target=self._target_heard.descriptors, params=self.controls)  # type: ignore[union-attr]

    # ------------------------------------------------------------------ helpers
    @property
    def params(self) -> np.ndarray:
        """Current engine parameters, shape (N,)."""
        return self.layout.to_engine(self.controls)

    def distance_at(self, controls: np.ndarray) -> float:
        """Distance of the sound at ``controls`` (shape (M,)) to the current target (one render; for optimisers)."""
        if self._target_heard is None:
            raise ParameterError("call reset() before distance_at()")
        u = self.layout.quantize(np.asarray(controls, dtype=np.float64))
        audio = self._render(self.layout.to_engine(u)[None, :], self.duration)[0]
        return self.listener.distance(self.listener.listen(audio), self._target_heard)
