"""The training configuration: a YAML file validated by a strict schema.

Every key is documented in ``configs/fm.yaml``. Unknown keys, wrong types, unknown feature or
algorithm names (with the close match) and an algorithm that does not fit the action space are
refused when the file is loaded, before anything is read from the workspace or trained; the message
names the file and the key: ``configs/fm.yaml: [features.1] 'mfc' is not a descriptor or group; did
you mean 'mfcc'?``.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import pydantic

from rlimpro.config import StrictModel, load_yaml, validate
from rlimpro.descriptors.registry import DESCRIPTORS, GROUPS, expand_features
from rlimpro.env.actions import ActionType
from rlimpro.env.rewards import RewardType
from rlimpro.env.targets import TrainingMode
from rlimpro.errors import ParameterError
from rlimpro.synths.silence import SilenceMode
from rlimpro.tasks.settings import MatchSettings, SequenceSettings, TaskName, check_task_config

#: Stable-Baselines3 algorithms by name, with the action types each supports.
ALGORITHMS: dict[str, tuple[str, ...]] = {
    "PPO": ("discrete", "continuous", "absolute"),
    "A2C": ("discrete", "continuous", "absolute"),
    "DQN": ("discrete",),
    "SAC": ("continuous", "absolute"),
    "TD3": ("continuous", "absolute"),
}


def algorithm_class(name: str) -> type:
    """The SB3 class of algorithm ``name`` (imports stable-baselines3)."""
    import stable_baselines3 as sb3

    return getattr(sb3, name)


class LookupExpectation(StrictModel):
    """What the lookup table must be (checked against lookup.json; used in the 'create it' hint)."""

    subdiv: int | None = pydantic.Field(None, ge=2, description="grid points per parameter")
    params: int | None = pydantic.Field(None, ge=1, description="number of synth parameters")


def algorithm_name(value: str) -> str:
    """Canonical (upper-case) name of a supported algorithm; a ValueError with a close match otherwise."""
    name = value.upper()
    if name not in ALGORITHMS:
        close = difflib.get_close_matches(name, list(ALGORITHMS), n=1, cutoff=0.4)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"'{value}' is not a supported algorithm{hint} (choose {', '.join(ALGORITHMS)})")
    return name


def checked_features(value: list[str] | None) -> list[str] | None:
    """Descriptor and group names that expand to a feature set (None passes); a ValueError naming the bad item
    (with the close match) otherwise."""
    if value is None:
        return value
    for i, item in enumerate(value):
        if item not in GROUPS and item not in DESCRIPTORS:
            close = difflib.get_close_matches(item, list(GROUPS) + list(DESCRIPTORS), n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(
                f"item {i}: '{item}' is not a descriptor or group{hint} (groups: {', '.join(GROUPS)})"
            )
    try:
        expand_features(value)
    except ParameterError as exc:
        raise ValueError(str(exc)) from None
    return value


def checked_weights(value: dict[str, float]) -> dict[str, float]:
    """Reward weights keyed by descriptor or group names, each >= 0; a ValueError naming the bad key otherwise."""
    for key, w in value.items():
        if key not in GROUPS and key not in DESCRIPTORS:
            close = difflib.get_close_matches(key, list(GROUPS) + list(DESCRIPTORS), n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"'{key}' is not a descriptor or group{hint}")
        if not w >= 0:
            raise ValueError(f"weight of '{key}' must be >= 0, got {w}")
    return value


class LearningKeys(StrictModel):
    """The checks of the learning keys that the imitation and the cross-adaptive schemas share.

    ``features``, ``features_reward``, ``reward_weights`` and ``algorithm`` mean the same in both
    (:class:`TrainConfig`, :class:`rlimpro.crossadaptive.config.CrossAdaptiveConfig`). No field is declared
    here: each schema keeps its own keys, defaults and key order (config.yaml lists them in that order).
    """

    @pydantic.field_validator("features", "features_reward", check_fields=False)
    @classmethod
    def _check_features(cls, value: list[str] | None) -> list[str] | None:
        return checked_features(value)

    @pydantic.field_validator("algorithm", check_fields=False)
    @classmethod
    def _check_algorithm(cls, value: str) -> str:
        return algorithm_name(value)

    @pydantic.field_validator("reward_weights", check_fields=False)
    @classmethod
    def _check_weights(cls, value: dict[str, float]) -> dict[str, float]:
        return checked_weights(value)

    def _check_reward_weights(self) -> None:
        """A ValueError when ``reward_weights`` names a descriptor or group that is not among the reward features."""
        if self.reward_weights:
            reward = set(expand_features(self.reward_features))
            for key in self.reward_weights:
                names = GROUPS.get(key, (key,))
                if not set(names) <= reward:
                    raise ValueError(f"reward_weights names '{key}', which is not among features_reward")

    @property
    def reward_features(self) -> list[str]:
        """``features_reward``, or ``features`` when not given."""
        return self.features_reward or self.features


class TrainConfig(LearningKeys):
    """Schema of ``rlimpro train CONFIG.yaml``."""

    # imitate: follow a musician through the lookup table (configs/fm.yaml); match / sequence: sound tasks
    # with audio rendered in the loop, set up in the section named after the task (rlimpro.tasks)
    task: TaskName = "imitate"
    synth: str = pydantic.Field(min_length=1)
    corpus: str | None = pydantic.Field(None, min_length=1)
    lookup: LookupExpectation = LookupExpectation()

    # what the agent sees and is rewarded on
    features: list[str] = ["mfcc", "specshape"]
    features_reward: list[str] | None = None
    reward_weights: dict[str, float] = {}
    reward_type: RewardType = "linear"
    reward_scale: float = pydantic.Field(1.0, gt=0)
    prize_threshold: float = pydantic.Field(0.1, gt=0)
    prize: float = pydantic.Field(1.0, gt=0)
    distance_units: Literal["perceptual", "table"] = "perceptual"
    observe_error: bool = True
    observe_goal: bool = False
    movement_penalty: float = pydantic.Field(0.0, ge=0)

    # how it acts
    action_type: ActionType = "discrete"
    step_size: float = pydantic.Field(0.05, gt=0, le=1)
    interpolation: Literal["nearest", "multilinear"] = "nearest"

    # what it imitates
    training_mode: TrainingMode = "corpus"
    target_change_prob: float = pydantic.Field(0.02, ge=0, le=1)
    corpus_fraction: float = pydantic.Field(0.5, ge=0, le=1)
    active_only: bool = True
    silence: SilenceMode = "fade"
    held_out_files: list[str] | None = None
    held_out_fraction: float | None = pydantic.Field(None, ge=0, lt=1)

    # how it learns
    algorithm: str = "PPO"
    algorithm_kwargs: dict[str, Any] = {}
    net_arch: list[pydantic.PositiveInt] | None = None
    timesteps: int = pydantic.Field(100_000, ge=1)
    n_envs: int = pydantic.Field(4, ge=1, le=64)
    max_episode_steps: int | None = pydantic.Field(256, ge=1)
    seed: int | None = 0
    eval_freq: int = pydantic.Field(20_000, ge=0)
    checkpoint_freq: int = pydantic.Field(50_000, ge=0)
    torch_threads: int | None = pydantic.Field(1, ge=1)

    # task sections (only the one of the config's task may be given)
    match: MatchSettings | None = None
    sequence: SequenceSettings | None = None

    @pydantic.model_validator(mode="after")
    def _check_combination(self) -> TrainConfig:
        check_task_config(self)
        if self.task != "imitate":  # the algorithm is checked against the task's action space in rlimpro.tasks.setup
            self._check_reward_weights()
            return self
        if self.action_type not in ALGORITHMS[self.algorithm]:
            fits = ", ".join(a for a, types in ALGORITHMS.items() if self.action_type in types)
            raise ValueError(
                f"algorithm {self.algorithm} does not support action_type '{self.action_type}' "
                f"({self.algorithm} takes {' or '.join(ALGORITHMS[self.algorithm])} actions; "
                f"for {self.action_type} use {fits})"
            )
        if self.held_out_files is not None and self.held_out_fraction is not None:
            raise ValueError("give held_out_files or held_out_fraction, not both")
        if self.held_out_files is not None and len(set(self.held_out_files)) != len(self.held_out_files):
            raise ValueError("held_out_files lists a file twice")
        if self.training_mode != "corpus" and self.max_episode_steps is None:
            raise ValueError(f"training_mode '{self.training_mode}' needs max_episode_steps (random targets never end)")
        self._check_reward_weights()
        return self


def load_config(path: Path, *, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Load and validate a training config.

    Parameters
    ----------
    path : Path
        The YAML file.
    overrides : dict, optional
        Keys replaced after reading (e.g. ``{"timesteps": 2000}`` from the command line).

    Raises
    ------
    NotFoundError
        The file does not exist.
    ConfigError
        Not YAML, or not the schema (every error, each naming its key, prefixed by the file name).
    """
    data = load_yaml(Path(path))
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return validate(TrainConfig, data, source=str(path))


def check_algorithm_kwargs(config: TrainConfig, *, source: str) -> None:
    """Refuse ``algorithm_kwargs`` that the SB3 algorithm does not take (imports SB3).

    Raises
    ------
    ConfigError
        Names the key, the algorithm and the close match.
    """
    import inspect

    from rlimpro.errors import ConfigError

    cls = algorithm_class(config.algorithm)
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "policy", "env", "kwargs")]
    reserved = {"tensorboard_log", "seed", "verbose", "device", "_init_setup_model"}
    for key in config.algorithm_kwargs:
        if key in reserved:
            raise ConfigError(f"{source}: [algorithm_kwargs.{key}] is set by rlimpro; remove it")
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"{source}: [algorithm_kwargs.{key}] {config.algorithm} has no argument '{key}'{hint}")
    if config.net_arch is not None and "policy_kwargs" in config.algorithm_kwargs:
        if "net_arch" in (config.algorithm_kwargs["policy_kwargs"] or {}):
            raise ConfigError(f"{source}: [net_arch] is also given in algorithm_kwargs.policy_kwargs; keep one")
