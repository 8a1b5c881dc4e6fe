"""Config sections of the sound tasks: ``match:`` and ``sequence:`` in a training config.

A training config selects its task with ``task: imitate | match | sequence``; the settings of the
``match`` and ``sequence`` tasks live in a section named after the task (every key documented in
``configs/match-fm.yaml`` and ``configs/sequence.yaml``). :func:`check_task_config` enforces the
rules that tie the sections to the rest of the config: the section matches the task, keys that only
the lookup-table task (``imitate``) reads are not set, and so on.
"""

from __future__ import annotations

from typing import Any, Literal

import pydantic

from rlimpro.config import StrictModel
from rlimpro.tasks.actions import ActionMode
from rlimpro.tasks.specs import ActionSpec

DistanceKind = Literal["descriptors", "spectral"]
ObservationKind = Literal["descriptors", "spectrogram"]

TASKS = ("imitate", "match", "sequence")
TaskName = Literal["imitate", "match", "sequence"]

#: keys of the training config that only the imitation task (lookup table + corpus) reads
IMITATE_ONLY = (
    "corpus", "lookup", "action_type", "step_size", "interpolation", "training_mode", "target_change_prob",
    "corpus_fraction", "active_only", "held_out_files", "held_out_fraction", "max_episode_steps",
)


class TargetFile(StrictModel):
    """A target taken from an audio file: a corpus file by name, or a path in the workspace."""

    file: str = pydantic.Field(min_length=1, description="file stem in corpora/<corpus>/audio/, or a path relative to the workspace")
    corpus: str | None = pydantic.Field(None, description="corpus whose audio/ folder holds the file (demo is made when missing)")
    start: float = pydantic.Field(0.0, ge=0, description="seconds into the file")
    name: str | None = pydantic.Field(None, description="name in reports (default: <corpus>/<file>@<start>s)")

    def label(self) -> str:
        """The target's name in reports."""
        return self.name or f"{self.corpus + '/' if self.corpus else ''}{self.file}@{self.start:g}s"


class TrainTargets(StrictModel):
    """Targets of the training episodes."""

    synth: bool = pydantic.Field(True, description="fresh synth-made targets with hidden parameters")
    files: list[TargetFile] = []
    synth_fraction: float = pydantic.Field(1.0, ge=0, le=1, description="share of synth targets when files are given too")

    @pydantic.model_validator(mode="after")
    def _check(self) -> TrainTargets:
        if not self.synth and not self.files:
            raise ValueError("no training targets: set synth: true or list files")
        return self


class EvalTargets(StrictModel):
    """Held-out targets: synth-made ones from their own seed, and files."""

    synth: int = pydantic.Field(16, ge=0, description="number of held-out synth-made targets")
    seed: int = pydantic.Field(1_000_003, description="seed of the held-out synth targets (training never uses it)")
    files: list[TargetFile] = []

    @pydantic.model_validator(mode="after")
    def _check(self) -> EvalTargets:
        if self.synth == 0 and not self.files:
            raise ValueError("no held-out targets: set synth > 0 or list files")
        return self


class SoundTaskSettings(StrictModel):
    """What the match and sequence sections share."""

    engine: str | None = pydantic.Field(None, description="override synth.yaml's engine (native, pd, faust, csound, supercollider)")
    sample_rate: int = pydantic.Field(22050, ge=8000, le=192000)
    window: int = pydantic.Field(1024, ge=64, description="descriptor analysis window, samples (power of two)")
    hop: int = pydantic.Field(512, ge=1, description="descriptor analysis hop, samples")
    observation: ObservationKind = "descriptors"
    distance: DistanceKind = "descriptors"
    actions: dict[str, ActionSpec] = {}
    features_extractor: Literal["small", "nature"] = pydantic.Field("small", description="CNN for observation: spectrogram")
    stats_sounds: int = pydantic.Field(256, ge=2, description="random synth sounds that give the z-scoring statistics")
    train_targets: TrainTargets = TrainTargets()
    eval_targets: EvalTargets = EvalTargets()
    optimizer: Literal["cmaes", "random"] = pydantic.Field("cmaes", description="black-box baseline in evaluation")
    optimizer_budgets: list[pydantic.PositiveInt] = pydantic.Field(
        [1], min_length=1, description="optimiser budgets as multiples of the agent's renders per target"
    )

    @pydantic.model_validator(mode="after")
    def _check_analysis(self) -> SoundTaskSettings:
        if self.window & (self.window - 1):
            raise ValueError(f"window {self.window} must be a power of two")
        if self.hop > self.window:
            raise ValueError(f"hop {self.hop} must be <= window {self.window}")
        return self


class MatchSettings(SoundTaskSettings):
    """``match:`` refine the synth's parameters until its sound matches a target."""

    duration: float = pydantic.Field(0.25, gt=0, le=10, description="seconds per rendered sound and per target")
    max_steps: int = pydantic.Field(20, ge=1, le=10_000, description="refinement steps per episode")
    threshold: float | None = pydantic.Field(None, gt=0, description="distance that ends an episode early")
    action_mode: ActionMode = "incremental"
    step_size: float = pydantic.Field(0.1, gt=0, le=1, description="incremental: control change at full action")


class SequenceSettings(SoundTaskSettings):
    """``sequence:`` play a target phrase segment by segment."""

    total_steps: int = pydantic.Field(8, ge=1, le=10_000, description="segments per phrase")
    step_seconds: float = pydantic.Field(0.25, gt=0, le=10, description="seconds per segment")
    save_audio: bool = pydantic.Field(True, description="evaluation writes each phrase's audio to the run")


def check_task_config(config: Any) -> None:
    """Rules tying the task sections to the training config (called by its validator).

    Raises
    ------
    ValueError
        With a message naming the key (pydantic turns it into a ConfigError naming the file).
    """
    task = config.task
    given = config.model_fields_set
    for other in ("match", "sequence"):
        if other != task and other in given and getattr(config, other) is not None:
            raise ValueError(f"[{other}] is the section of task {other}, but task is {task}; remove it or set task: {other}")
    if task == "imitate":
        if not config.corpus:
            raise ValueError("[corpus] task imitate needs a corpus (corpora/<corpus>/features)")
        return
    for key in IMITATE_ONLY:  # set to something else than the default (a saved config.yaml lists every key)
        if key in given and getattr(config, key) != type(config).model_fields[key].get_default(call_default_factory=True):
            raise ValueError(f"[{key}] is read by task imitate only; remove it (task is {task}, see its section '{task}:')")
    if getattr(config, task) is None:
        section = MatchSettings() if task == "match" else SequenceSettings()
        object.__setattr__(config, task, section)
