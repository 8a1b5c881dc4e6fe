"""The cross-adaptive training config (``task: cross-adaptive``): material, effect chain, agent.

Every key is documented in ``configs/cross-adaptive.yaml``. The learning keys (features, rewards,
actions, algorithm ...) mean what they mean in the imitation config (:mod:`rlimpro.train_config`);
``synth``, ``corpus``, ``lookup`` and ``training_mode`` do not apply. Unknown keys, wrong types,
unknown effects, descriptors or algorithms (with the close match) are errors naming the key and the
file, reported before anything is generated, read or trained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic

from rlimpro.config import StrictModel, load_yaml, validate
from rlimpro.env.actions import ActionType
from rlimpro.env.rewards import RewardType
from rlimpro.errors import ParameterError
from rlimpro.train_config import ALGORITHMS, LearningKeys

TASK = "cross-adaptive"
SourceKind = Literal["noise", "pink", "drone"]
TargetKind = Literal["beat", "swell", "melody"]


class GeneratedMaterial(StrictModel):
    """Source/target pairs generated in code (see :mod:`rlimpro.crossadaptive.material`)."""

    kind: Literal["generated"] = "generated"
    sources: list[SourceKind] = pydantic.Field(["noise"], min_length=1)
    targets: list[TargetKind] = pydantic.Field(["beat", "swell", "melody"], min_length=1)
    pairs: int = pydantic.Field(12, ge=2, le=1000)
    held_out: int = pydantic.Field(3, ge=1)
    duration: float = pydantic.Field(4.0, ge=0.5, le=600.0)
    seed: int = 0

    @pydantic.model_validator(mode="after")
    def _check(self) -> GeneratedMaterial:
        if self.held_out >= self.pairs:
            raise ValueError(f"held_out {self.held_out} leaves no pair to train on (pairs {self.pairs})")
        return self


class CorporaMaterial(StrictModel):
    """Pairs of audio files from two corpora (``corpora/<name>/audio/``)."""

    kind: Literal["corpora"]
    source_corpus: str = pydantic.Field(min_length=1)
    target_corpus: str = pydantic.Field(min_length=1)
    pairs: list[tuple[str, str]] | None = None
    held_out_pairs: list[str] | None = None
    held_out_fraction: float | None = pydantic.Field(None, ge=0, lt=1)

    @pydantic.model_validator(mode="after")
    def _check(self) -> CorporaMaterial:
        if self.held_out_pairs is not None and self.held_out_fraction is not None:
            raise ValueError("give held_out_pairs or held_out_fraction, not both")
        return self


Material = Annotated[GeneratedMaterial | CorporaMaterial, pydantic.Field(discriminator="kind")]


class AnalysisConfig(StrictModel):
    """Analysis settings of both streams and of the processed signal."""

    sample_rate: int = pydantic.Field(44100, ge=8000, le=192000)
    window: int = pydantic.Field(1024, ge=64)
    hop: int = pydantic.Field(512, ge=1)


class CrossAdaptiveConfig(LearningKeys):
    """Schema of ``rlimpro train CONFIG.yaml`` with ``task: cross-adaptive``.

    The learning keys are checked as in the imitation config (:class:`~rlimpro.train_config.LearningKeys`).
    """

    task: Literal["cross-adaptive"]
    material: Material = GeneratedMaterial()
    effects: list[str | dict[str, Any]] = ["lowpass", "distortion", "gain"]
    ramp: int = pydantic.Field(128, ge=0, le=1 << 16)
    analysis: AnalysisConfig = AnalysisConfig()

    # what the agent sees and is rewarded on
    features: list[str] = ["loudness", "specshape", "mfcc"]
    features_reward: list[str] | None = None
    reward_weights: dict[str, float] = {}
    reward_type: RewardType = "linear"
    reward_scale: float = pydantic.Field(1.0, gt=0)
    prize_threshold: float = pydantic.Field(0.1, gt=0)
    prize: float = pydantic.Field(1.0, gt=0)

    # how it acts
    action_type: ActionType = "absolute"
    step_size: float = pydantic.Field(0.05, gt=0, le=1)

    # how it learns
    algorithm: str = "PPO"
    algorithm_kwargs: dict[str, Any] = {}
    net_arch: list[pydantic.PositiveInt] | None = None
    timesteps: int = pydantic.Field(100_000, ge=1)
    n_envs: int = pydantic.Field(4, ge=1, le=64)
    max_episode_steps: int = pydantic.Field(128, ge=1)
    seed: int | None = 0
    eval_freq: int = pydantic.Field(20_000, ge=0)
    checkpoint_freq: int = pydantic.Field(50_000, ge=0)
    torch_threads: int | None = pydantic.Field(1, ge=1)

    @pydantic.field_validator("effects")
    @classmethod
    def _check_effects(cls, value: list[Any]) -> list[Any]:
        from rlimpro.effects.chain import EffectChain

        try:
            EffectChain.from_spec(value, sample_rate=44100, ramp=0)
        except ParameterError as exc:
            raise ValueError(str(exc)) from None
        return value

    @pydantic.model_validator(mode="after")
    def _check_combination(self) -> CrossAdaptiveConfig:
        if self.action_type not in ALGORITHMS[self.algorithm]:
            fits = ", ".join(a for a, types in ALGORITHMS.items() if self.action_type in types)
            raise ValueError(
                f"algorithm {self.algorithm} does not support action_type '{self.action_type}' "
                f"(for {self.action_type} use {fits})"
            )
        a = self.analysis
        if a.window & (a.window - 1) or a.hop > a.window:
            raise ValueError(f"analysis: window {a.window} must be a power of two and hop {a.hop} at most the window")
        self._check_reward_weights()
        return self

    def analysis_settings(self):
        """The :class:`~rlimpro.descriptors.analyzer.AnalysisSettings` (no smoothing)."""
        from rlimpro.descriptors.analyzer import AnalysisSettings

        a = self.analysis
        return AnalysisSettings(sample_rate=a.sample_rate, window=a.window, hop=a.hop, smooth=1)


def config_task(path: Path) -> str | None:
    """The ``task`` key of a YAML config, or None (no file check beyond reading it).

    Raises
    ------
    NotFoundError, ConfigError
        As :func:`rlimpro.config.load_yaml`.
    """
    task = load_yaml(Path(path)).get("task")
    return task if isinstance(task, str) else None


def load_cross_config(path: Path, *, overrides: dict[str, Any] | None = None) -> CrossAdaptiveConfig:
    """Load and validate a cross-adaptive config; ``overrides`` (e.g. ``{"timesteps": 2000}``) replace keys.

    Raises
    ------
    NotFoundError
        No such file.
    ConfigError
        Not YAML or not the schema (every error, each naming its key, prefixed by the file name).
    """
    data = load_yaml(Path(path))
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return validate(CrossAdaptiveConfig, data, source=str(path))
