"""From a training config with ``task: match`` or ``task: sequence`` to environments.

:func:`prepare_task` loads the synth, compiles the action specifications, reads and checks every target
file, makes the held-out synth targets (from their own seed) and the z-scoring statistics (the synth's
descriptors at ``stats_sounds`` random controls), all before anything is trained, and returns a
:class:`TaskSetup` that builds training and evaluation environments. :func:`make_match_env` and
:func:`make_sequence_env` are the gymnasium entry points of ``rlimpro/Match-v0`` and
``rlimpro/Sequence-v0``::

    import gymnasium, rlimpro.tasks
    env = gymnasium.make("rlimpro/Match-v0", config="configs/match-fm.yaml", workspace=".")
    env = gymnasium.make("rlimpro/Sequence-v0", workspace=".", synth="fm", sequence={"total_steps": 4})
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.descriptors.analyzer import AnalysisSettings
from rlimpro.env.features import FeatureSpace
from rlimpro.env.rewards import Reward
from rlimpro.errors import ConfigError, ParameterError
from rlimpro.tasks.listener import Listener, feature_space_from_sounds
from rlimpro.tasks.specs import ActionLayout
from rlimpro.tasks.targets import Target, TargetPool, file_target, resolve_file, synth_phrase, synth_sound

STATS_SEED = 20_240_601

#: action space kind -> SB3 algorithms that take it
TASK_ALGORITHMS = {"continuous": ("PPO", "A2C", "SAC", "TD3"), "multidiscrete": ("PPO", "A2C")}


@dataclasses.dataclass
class TaskSetup:
    """Everything loaded and checked for one match / sequence config.

    Attributes
    ----------
    config : TrainConfig
    source : str
    workspace : Path
    spec : SynthSpec
    layout : ActionLayout
    settings : MatchSettings or SequenceSettings
    analysis : AnalysisSettings
    feature_space : FeatureSpace
        z-scoring over the task's controls (``n_params`` = M controls).
    eval_targets : list of Target
        Held-out targets, in order.
    train_fixed : list of Target
        Training targets from files.
    """

    config: Any
    source: str
    workspace: Path
    spec: Any
    layout: ActionLayout
    settings: Any
    analysis: AnalysisSettings
    feature_space: FeatureSpace
    eval_targets: list[Target]
    train_fixed: list[Target]

    # ------------------------------------------------------------------ what train.py reads
    @property
    def task(self) -> str:
        return self.config.task

    @property
    def held_out_files(self) -> list[str]:
        """Names of the held-out targets (one evaluation episode each)."""
        return [t.name for t in self.eval_targets]

    @property
    def train_files(self) -> list[str]:
        """Names of the fixed training targets (synth targets are made fresh per episode)."""
        return [t.name for t in self.train_fixed]

    @property
    def seconds(self) -> float:
        """Seconds per rendered sound (match) or segment (sequence)."""
        s = self.settings
        return s.duration if self.task == "match" else s.step_seconds

    @property
    def n_samples(self) -> int:
        return int(round(self.seconds * self.settings.sample_rate))

    @property
    def renders_per_episode(self) -> int:
        """Renders the agent makes per target: the start sound and every step (match), one per segment (sequence)."""
        s = self.settings
        return s.max_steps + 1 if self.task == "match" else s.total_steps

    @property
    def action_kind(self) -> str:
        return "multidiscrete" if self.layout.discrete else "continuous"

    def reward(self) -> Reward:
        c = self.config
        return Reward(c.reward_type, scale=c.reward_scale, prize_threshold=c.prize_threshold, prize=c.prize)

    def policy(self) -> str:
        """The SB3 policy name."""
        return "CnnPolicy" if self.settings.observation == "spectrogram" else "MlpPolicy"

    def policy_kwargs(self) -> dict[str, Any]:
        """Extra policy kwargs (the CNN feature extractor for spectrogram observations)."""
        if self.settings.observation != "spectrogram":
            return {}
        from rlimpro.tasks.extractor import EXTRACTORS

        return {"features_extractor_class": EXTRACTORS[self.settings.features_extractor]}

    # ------------------------------------------------------------------ environments
    def renderer(self):
        from rlimpro.synths import make_renderer

        return make_renderer(self.spec)

    def listener(self) -> Listener:
        s = self.settings
        return Listener(sample_rate=s.sample_rate, n_samples=self.n_samples, analysis=self.analysis, distance=s.distance,
                        observation=s.observation, feature_space=self.feature_space)

    def target_pool(self, split: str, renderer) -> TargetPool:
        """Held-out targets in order (``eval``), or fresh synth targets and the file targets (``train``)."""
        if split == "eval":
            return TargetPool(fixed=self.eval_targets)
        if split != "train":
            raise ParameterError(f"split '{split}': choose train or eval")
        tt = self.settings.train_targets
        make = None
        if tt.synth:
            s = self.settings
            if self.task == "match":
                def make(rng, i):
                    return synth_sound(renderer, self.layout, rng=rng, duration=s.duration, sample_rate=s.sample_rate, name="train-synth")
            else:
                def make(rng, i):
                    return synth_phrase(renderer, self.layout, rng=rng, total_steps=s.total_steps, step_seconds=s.step_seconds,
                                        sample_rate=s.sample_rate, name="train-synth")
        return TargetPool(fixed=self.train_fixed, make_random=make, random_fraction=tt.synth_fraction)

    def make_env(self, *, split: str = "train", save_audio_dir: Path | None = None, **overrides: Any):
        """A new environment (``train``: random starts and training targets; ``eval``: held-out targets in order).

        ``overrides`` replace keyword arguments of :class:`MatchEnv` / :class:`SequenceEnv`.
        """
        from rlimpro.tasks.match import MatchEnv
        from rlimpro.tasks.sequence import SequenceEnv

        s = self.settings
        renderer = self.renderer()
        kwargs: dict[str, Any] = dict(
            renderer=renderer, layout=self.layout, listener=self.listener(), targets=self.target_pool(split, renderer),
            sample_rate=s.sample_rate, reward=self.reward(),
        )
        if self.task == "match":
            kwargs.update(duration=s.duration, max_steps=s.max_steps, threshold=s.threshold, action_mode=s.action_mode,
                          step_size=s.step_size, start="random" if split == "train" else "default")
            kwargs.update(overrides)
            return MatchEnv(**kwargs)
        kwargs.update(total_steps=s.total_steps, step_seconds=s.step_seconds, save_audio_dir=save_audio_dir)
        kwargs.update(overrides)
        return SequenceEnv(**kwargs)

    # ------------------------------------------------------------------ run folder
    def run_info(self) -> dict[str, Any]:
        """The task's part of run.json."""
        return {
            "task": self.task,
            "engine": self.spec.engine,
            "n_params": self.spec.n_params,
            "n_controls": self.layout.n_controls,
            "param_names": [p.name for p in self.spec.params],
            "actions": self.layout.describe(),
            "action_space": self.action_kind,
            "analysis": self.analysis.to_dict(),
            "default_params": [float(v) for v in self.layout.to_engine(self.layout.quantize(self.layout.default_controls()))],
            "train_files": self.train_files,
            "held_out_files": self.held_out_files,
            "renders_per_episode": self.renders_per_episode,
        }


def check_task_algorithm(config: Any, layout: ActionLayout, *, source: str) -> None:
    """Refuse an algorithm that cannot act in the task's action space (Box or MultiDiscrete).

    Raises
    ------
    ConfigError
    """
    kind = "multidiscrete" if layout.discrete else "continuous"
    if config.algorithm not in TASK_ALGORITHMS[kind]:
        what = "every control is a choice (MultiDiscrete actions)" if layout.discrete else "the actions are continuous (Box)"
        raise ConfigError(
            f"{source}: [algorithm] {config.algorithm} cannot act here: {what}; use {' or '.join(TASK_ALGORITHMS[kind])}"
        )


def _file_targets(files, *, workspace: Path, seconds: float, sample_rate: int, step_seconds: float | None, source: str, key: str) -> list[Target]:
    from rlimpro.errors import AudioError, NotFoundError

    out = []
    for i, tf in enumerate(files):
        try:
            path = resolve_file(file=tf.file, corpus=tf.corpus, workspace=workspace)
            out.append(file_target(path, start=tf.start, seconds=seconds, sample_rate=sample_rate, name=tf.label(), step_seconds=step_seconds))
        except (NotFoundError, AudioError, ParameterError) as exc:
            raise type(exc)(f"{source}: [{key}.{i}] {exc}") from exc
    return out


def prepare_task(config: Any, *, workspace: Path, source: str = "config") -> TaskSetup:
    """Load and check everything a match / sequence config needs.

    Parameters
    ----------
    config : TrainConfig
        With ``task`` ``match`` or ``sequence``.
    workspace : Path
    source : str
        The config's name, for messages.

    Raises
    ------
    ConfigError
        Bad action specs (``rel`` of a later or missing parameter, ``exp`` range with zero, values outside
        the synth's ranges), an algorithm that does not fit the action space, a sound too short for the
        analysis or the spectral distance.
    NotFoundError, AudioError, ParameterError
        A target file is missing, unreadable, or shorter than the task needs (one step, the phrase).
    """
    from rlimpro.synths import load_spec, make_renderer

    workspace = Path(workspace)
    task = config.task
    if task not in ("match", "sequence"):
        raise ConfigError(f"{source}: [task] '{task}' is not a sound task (match or sequence)")
    s = getattr(config, task)
    spec = load_spec(config.synth, workspace=workspace, engine=s.engine)
    layout = ActionLayout(spec, s.actions, source=f"{source}: [{task}.actions]")
    check_task_algorithm(config, layout, source=source)
    try:
        analysis = AnalysisSettings(sample_rate=s.sample_rate, window=s.window, hop=s.hop)
    except ParameterError as exc:
        raise ConfigError(f"{source}: [{task}] {exc}") from exc
    seconds = s.duration if task == "match" else s.step_seconds
    n = int(round(seconds * s.sample_rate))
    if n < s.window:
        key = "duration" if task == "match" else "step_seconds"
        raise ConfigError(
            f"{source}: [{task}.{key}] {seconds:g} s is {n} samples, shorter than the analysis window ({s.window}); "
            f"use at least {s.window / s.sample_rate:.3f} s or a smaller window"
        )
    step = s.step_seconds if task == "sequence" else None
    total = s.duration if task == "match" else s.total_steps * s.step_seconds
    eval_files = _file_targets(s.eval_targets.files, workspace=workspace, seconds=total, sample_rate=s.sample_rate,
                               step_seconds=step, source=source, key=f"{task}.eval_targets.files")
    train_files = _file_targets(s.train_targets.files, workspace=workspace, seconds=total, sample_rate=s.sample_rate,
                                step_seconds=step, source=source, key=f"{task}.train_targets.files")

    renderer = make_renderer(spec)
    rng = np.random.default_rng(STATS_SEED)
    u = layout.quantize(rng.random((s.stats_sounds, layout.n_controls)))
    sounds = renderer.render(layout.to_engine(u), duration=seconds, sample_rate=s.sample_rate)
    try:
        fs = feature_space_from_sounds(
            sounds, analysis=analysis, features=config.features, features_reward=config.reward_features, n_params=layout.n_controls,
            reward_weights=config.reward_weights, source=source,
        )
    except ParameterError as exc:
        raise ConfigError(str(exc)) from exc
    if s.distance == "spectral":
        from rlimpro.tasks.spectral import MultiScaleSpectrum

        try:
            MultiScaleSpectrum().spectra(np.zeros(n))
        except ParameterError as exc:
            raise ConfigError(f"{source}: [{task}] {exc}") from exc

    erng = np.random.default_rng(s.eval_targets.seed)
    synth_targets: list[Target] = []
    for i in range(s.eval_targets.synth):
        if task == "match":
            synth_targets.append(synth_sound(renderer, layout, rng=erng, duration=s.duration, sample_rate=s.sample_rate, name=f"synth-{i:02d}"))
        else:
            synth_targets.append(synth_phrase(renderer, layout, rng=erng, total_steps=s.total_steps, step_seconds=s.step_seconds,
                                              sample_rate=s.sample_rate, name=f"phrase-{i:02d}"))
    return TaskSetup(
        config=config, source=source, workspace=workspace, spec=spec, layout=layout, settings=s, analysis=analysis,
        feature_space=fs, eval_targets=synth_targets + eval_files, train_fixed=train_files,
    )


def _load(config: str | Path | None, settings: dict[str, Any], task: str):
    from rlimpro.config import validate
    from rlimpro.train_config import TrainConfig, load_config

    if config is not None:
        cfg = load_config(Path(config), overrides=settings)
        source = str(config)
    else:
        source = "gymnasium.make kwargs"
        cfg = validate(TrainConfig, {"task": task, **settings}, source=source)
    if cfg.task != task:
        raise ConfigError(f"{source}: [task] is {cfg.task}; rlimpro/{task.capitalize()}-v0 needs task: {task}")
    return cfg, source


def make_match_env(*, config: str | Path | None = None, workspace: str | Path = ".", split: str = "train", **settings: Any):
    """Gymnasium entry point of ``rlimpro/Match-v0`` (a config file, or config keys as keyword arguments)."""
    cfg, source = _load(config, settings, "match")
    return prepare_task(cfg, workspace=Path(workspace), source=source).make_env(split=split)


def make_sequence_env(*, config: str | Path | None = None, workspace: str | Path = ".", split: str = "train", **settings: Any):
    """Gymnasium entry point of ``rlimpro/Sequence-v0``."""
    cfg, source = _load(config, settings, "sequence")
    return prepare_task(cfg, workspace=Path(workspace), source=source).make_env(split=split)
