"""The ``sequence`` task: play a target phrase segment by segment (RaveForce's task, on rlimpro's engines).

Registered as ``rlimpro/Sequence-v0``. The target audio is split into ``total_steps`` segments of
``step_seconds``; at step ``t`` the agent sets the controls of segment ``t`` (absolute actions:
:mod:`rlimpro.tasks.actions`), the synth renders it (one render per step), and the reward is the
config's reward shape of the distance between that segment and the target's segment ``t``
(:class:`~rlimpro.tasks.listener.Listener`). The episode terminates after the last segment (the phrase
is complete); the concatenated audio of the episode is :meth:`SequenceEnv.episode_audio`, and is written
to ``save_audio_dir/episode-<n>.wav`` (with the target beside it) when that is given.

Observation, by ``observation``: ``descriptors`` — ``[previous segment z (F), target segment t z (F),
previous controls (M), t / total_steps]`` (float32; at ``t = 0`` the previous segment is the z-space
origin and the controls the synth's defaults), or ``spectrogram`` — the uint8 log-mel images of the
target segment ``t`` and of the previous rendered segment (zeros at ``t = 0``), shape (2, n_mels, n_frames).

``info``: ``distance`` (of the segment just played), ``mean_distance`` (over the segments so far),
``renders``, ``params``, ``target``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.env.rewards import Reward
from rlimpro.errors import ParameterError
from rlimpro.tasks.actions import ControlActions
from rlimpro.tasks.listener import Heard, Listener
from rlimpro.tasks.match import SoundTaskEnv
from rlimpro.tasks.specs import ActionLayout
from rlimpro.tasks.targets import Target, TargetPool


class SequenceEnv(SoundTaskEnv):
    """Imitate a target phrase one segment per step (see the module docstring).

    Parameters
    ----------
    renderer : Renderer
    layout : ActionLayout
    listener : Listener
        For segments of ``round(step_seconds * sample_rate)`` samples.
    targets : TargetPool
        Target phrases of ``total_steps`` segments.
    total_steps : int
        Segments per phrase, >= 1.
    step_seconds : float
        Seconds per segment.
    sample_rate : int
        Hz.
    reward : Reward, optional
    save_audio_dir : Path, optional
        Write every finished episode's audio there (``episode-<n>.wav``, ``episode-<n>-target.wav``).
    render_mode : None
    """

    def __init__(self, *, renderer, layout: ActionLayout, listener: Listener, targets: TargetPool, total_steps: int, step_seconds: float,
                 sample_rate: int, reward: Reward | None = None, save_audio_dir: Path | None = None, render_mode: str | None = None):
        super().__init__(renderer=renderer, layout=layout, listener=listener, targets=targets, sample_rate=sample_rate, reward=reward,
                         actions=ControlActions(layout, mode="absolute"), render_mode=render_mode)
        if total_steps < 1:
            raise ParameterError(f"total_steps {total_steps} must be >= 1")
        self.step_samples = int(round(step_seconds * sample_rate))
        if self.step_samples != listener.n_samples:
            raise ParameterError(f"the listener expects {listener.n_samples} samples, a step of {step_seconds} s is {self.step_samples}")
        self.total_steps = int(total_steps)
        self.step_seconds = float(step_seconds)
        self.save_audio_dir = Path(save_audio_dir) if save_audio_dir is not None else None
        self.episodes = 0
        if listener.observation_kind == "spectrogram":
            self.observation_space = self._image_box()
            self._blank = np.zeros(listener.image.shape, dtype=np.uint8)  # type: ignore[union-attr]
        else:
            self.observation_space = self._descriptor_box(extra=1)
        self.target: Target | None = None
        self._segments: list[Heard] = []
        self._prev: Heard | None = None
        self.controls = self.layout.quantize(self.layout.default_controls())
        self._audio: list[np.ndarray] = []
        self.distances: list[float] = []
        self._t = 0

    def _listen_target(self, target: Target) -> list[Heard]:
        n = self.step_samples
        if target.audio.size < n * self.total_steps:
            raise ParameterError(
                f"target '{target.name}' holds {target.audio.size / self.sample_rate:.3f} s; "
                f"{self.total_steps} steps of {self.step_seconds:g} s need {self.total_steps * self.step_seconds:g} s"
            )
        cached = any(t is target for t in self.targets.fixed)
        if cached and id(target) in self._heard_cache:
            return self._heard_cache[id(target)]
        heard = [self.listener.listen(target.audio[t * n : (t + 1) * n]) for t in range(self.total_steps)]
        if cached:
            self._heard_cache[id(target)] = heard
        return heard

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        self.target = self._pick_target(options)
        self._segments = self._listen_target(self.target)
        self._prev = None
        self.controls = self._start_controls(options, "default")
        self._audio = []
        self.distances = []
        self.renders = 0
        self._t = 0
        return self._observation(), {"target": self.target.name, "renders": 0}

    def step(self, action):
        if self.target is None or self._t >= self.total_steps:
            raise ParameterError("call reset() before step() (the phrase is complete)")
        self.controls = self.actions.apply(self.controls, action)
        params = self.layout.to_engine(self.controls)
        audio = self._render(params[None, :], self.step_seconds)[0]
        heard = self.listener.listen(audio)
        distance = self.listener.distance(heard, self._segments[self._t])
        self._audio.append(np.asarray(audio, dtype=np.float32))
        self.distances.append(distance)
        self._prev = heard
        self._t += 1
        terminated = self._t >= self.total_steps
        info = {
            "distance": distance, "mean_distance": float(np.mean(self.distances)), "renders": self.renders,
            "params": params, "target": self.target.name,
        }
        if terminated:
            self.episodes += 1
            if self.save_audio_dir is not None:
                self.save_episode(self.save_audio_dir / f"episode-{self.episodes}.wav")
        return self._observation(), float(self.reward_fn(distance)), bool(terminated), False, info

    def _observation(self) -> np.ndarray:
        t = min(self._t, self.total_steps - 1)
        target = self._segments[t]
        if self.listener.observation_kind == "spectrogram":
            prev = self._prev.image if self._prev is not None else self._blank
            return np.stack([target.image, prev])  # type: ignore[list-item]
        fs = self.listener.feature_space
        f = fs.n_features  # type: ignore[union-attr]
        obs = np.empty(2 * f + self.n_controls + 1, dtype=np.float32)
        obs[:f] = fs.obs_features(self._prev.descriptors) if self._prev is not None else 0.0  # type: ignore[union-attr]
        obs[f : 2 * f] = fs.obs_features(target.descriptors)  # type: ignore[union-attr]
        obs[2 * f : 2 * f + self.n_controls] = self.controls
        obs[-1] = self._t / self.total_steps
        return obs

    # ------------------------------------------------------------------ audio of the episode
    def episode_audio(self) -> np.ndarray:
        """The segments rendered so far in this episode, concatenated, shape (t * step samples,), float32."""
        return np.concatenate(self._audio) if self._audio else np.zeros(0, dtype=np.float32)

    def save_episode(self, path: Path) -> Path:
        """Write the episode's audio (and the target's, as ``<stem>-target.wav``) as 16-bit WAV, atomically."""
        import soundfile as sf

        from rlimpro.tables import atomic_write

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        audio = np.clip(self.episode_audio(), -1.0, 1.0)
        atomic_write(path, lambda tmp: sf.write(tmp, audio, self.sample_rate, subtype="PCM_16", format="WAV"))
        if self.target is not None:
            n = self.step_samples * self.total_steps
            target = np.clip(self.target.audio[:n], -1.0, 1.0)
            tpath = path.with_name(f"{path.stem}-target.wav")
            atomic_write(tpath, lambda tmp: sf.write(tmp, target, self.sample_rate, subtype="PCM_16", format="WAV"))
        return path

    def distance_of_segment(self, t: int, controls: np.ndarray) -> float:
        """Distance of segment ``t`` of the current target played at ``controls`` (one render; for optimisers)."""
        if self.target is None:
            raise ParameterError("call reset() before distance_of_segment()")
        u = self.layout.quantize(np.asarray(controls, dtype=np.float64))
        audio = self._render(self.layout.to_engine(u)[None, :], self.step_seconds)[0]
        return self.listener.distance(self.listener.listen(audio), self._segments[t])
