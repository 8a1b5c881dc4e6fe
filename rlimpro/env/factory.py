"""From a training config and a workspace to environments: load, check, split, build.

:func:`prepare` reads the lookup table and the corpus tables named by a :class:`TrainConfig`, checks
that they fit together (analysis settings, lookup shape, held-out files) and returns a
:class:`TrainingSetup` that builds training and evaluation environments. :func:`make_env` is the
gymnasium entry point of ``rlimpro/Improvisation-v0``::

    import gymnasium, rlimpro.env
    env = gymnasium.make("rlimpro/Improvisation-v0", config="configs/fm.yaml", workspace=".")
    env = gymnasium.make("rlimpro/Improvisation-v0", workspace=".", synth="fm", corpus="demo",
                         action_type="continuous")
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.config import validate
from rlimpro.descriptors.registry import DESCRIPTORS
from rlimpro.env.features import FeatureSpace
from rlimpro.env.improvisation import ImprovisationEnv
from rlimpro.env.rewards import Reward
from rlimpro.env.synth_model import LookupGrid, grid_from_table
from rlimpro.errors import ConfigError, MismatchError, NotFoundError
from rlimpro.tables import check_descriptors, check_same_analysis, read_table
from rlimpro.train_config import TrainConfig, load_config
from rlimpro.workspace import did_you_mean, synth_dir, synth_source_dir


def lookup_command(config: TrainConfig) -> str:
    """The command that creates the lookup table this config needs."""
    cmd = f"rlimpro lookup --synth {config.synth}"
    if config.lookup.params is not None:
        cmd += f" --params {config.lookup.params}"
    return cmd + f" --subdiv {config.lookup.subdiv or 10}"


def held_out_split(files: list[str], config: TrainConfig, *, source: str) -> tuple[list[str], list[str]]:
    """``(training files, held-out files)`` from the corpus stems (sorted).

    ``held_out_files`` names them; ``held_out_fraction`` (default 0.25) holds out the last
    ``ceil(fraction * n)`` files in name order — deterministic, independent of the seed. At least one
    file always stays for training; a fraction of 0 holds out nothing.

    Raises
    ------
    ConfigError
        A named file is not in the corpus (with a close match), or nothing would be left to train on.
    """
    files = sorted(files)
    if config.held_out_files is not None:
        for stem in config.held_out_files:
            if stem not in files:
                raise ConfigError(
                    f"{source}: [held_out_files] '{stem}' is not a file of corpus '{config.corpus}'"
                    f"{did_you_mean(stem, files)} (files: {', '.join(files)})"
                )
        held = [f for f in files if f in config.held_out_files]
    else:
        fraction = 0.25 if config.held_out_fraction is None else config.held_out_fraction
        n = math.ceil(fraction * len(files)) if fraction > 0 else 0
        if fraction > 0 and len(files) > 1:
            n = min(max(n, 1), len(files) - 1)
        elif len(files) <= 1:
            n = 0
        held = files[len(files) - n :] if n else []
    train = [f for f in files if f not in held]
    if not train:
        raise ConfigError(f"{source}: [held_out_files] holds out every file of corpus '{config.corpus}'; keep one for training")
    return train, held


@dataclasses.dataclass
class TrainingSetup:
    """Everything loaded and checked for one training config.

    Attributes
    ----------
    config : TrainConfig
    source : str
        The config file (for messages).
    lookup_path : Path
    lookup_meta : dict
        lookup.json.
    grid : LookupGrid
        Raw descriptors of the grid, with the config's interpolation.
    feature_space : FeatureSpace
    frames : dict of str to ndarray
        Raw descriptor frames per corpus file, shape (frames, len(DESCRIPTORS)); only active frames
        when ``config.active_only``.
    times : dict of str to ndarray
        Time (s) of each of those frames.
    corpus_meta : dict
        analysis.json.
    train_files, held_out_files : list of str
    default_params : ndarray, shape (N,)
        The synth's default parameters (lookup.json), where episodes of evaluation start.
    warnings : list of str
    """

    config: TrainConfig
    source: str
    lookup_path: Path
    lookup_meta: dict[str, Any]
    grid: LookupGrid
    feature_space: FeatureSpace
    frames: dict[str, np.ndarray]
    times: dict[str, np.ndarray]
    corpus_meta: dict[str, Any]
    train_files: list[str]
    held_out_files: list[str]
    default_params: np.ndarray
    warnings: list[str] = dataclasses.field(default_factory=list)

    def reward(self) -> Reward:
        """The config's reward function."""
        c = self.config
        return Reward(c.reward_type, scale=c.reward_scale, prize_threshold=c.prize_threshold, prize=c.prize)

    def make_env(self, *, split: str = "train", files: list[str] | None = None, **overrides: Any) -> ImprovisationEnv:
        """A new environment.

        Parameters
        ----------
        split : {"train", "eval"}
            ``train``: the config's training mode over the training files, random starts.
            ``eval``: corpus files played whole in turn from the synth's default parameters.
        files : list of str, optional
            Corpus files to use (default: the split's files).
        **overrides
            Keyword arguments of :class:`ImprovisationEnv` to replace.
        """
        c = self.config
        if files is None:
            files = self.train_files if split == "train" else self.held_out_files
        kwargs: dict[str, Any] = dict(
            grid=self.grid,
            feature_space=self.feature_space,
            corpus={f: self.frames[f] for f in files if len(self.frames[f])},
            training_mode=c.training_mode if split == "train" else "corpus",
            action_type=c.action_type,
            step_size=c.step_size,
            reward=self.reward(),
            movement_penalty=c.movement_penalty,
            max_episode_steps=c.max_episode_steps if split == "train" else None,
            target_change_prob=c.target_change_prob,
            corpus_fraction=c.corpus_fraction,
            corpus_order="random" if split == "train" else "cycle",
            start="random" if split == "train" else "default",
            default_params=self.default_params,
        )
        kwargs.update(overrides)
        return ImprovisationEnv(**kwargs)


def _read_lookup(config: TrainConfig, *, workspace: Path, source: str) -> tuple[Path, Any, dict[str, Any]]:
    synth_source_dir(config.synth, workspace=workspace)  # unknown synth: NotFoundError with suggestions
    path = synth_dir(config.synth, workspace=workspace) / "lookup.csv"
    if not path.is_file():
        raise NotFoundError(f"{source}: the lookup table {path} does not exist; create it with `{lookup_command(config)}`")
    frame, meta = read_table(path)
    check_descriptors(meta, what=str(path), fix=f"{lookup_command(config)} --force")
    exp = config.lookup
    for key, meta_key in (("subdiv", "subdiv"), ("params", "n_params")):
        want = getattr(exp, key)
        if want is not None and meta.get(meta_key) != want:
            raise MismatchError(
                f"{source}: [lookup.{key}] is {want} but {path} has {meta_key} {meta.get(meta_key)}; "
                f"re-create it with `{lookup_command(config)} --force` or change the config"
            )
    return path, frame, meta


def prepare(config: TrainConfig, *, workspace: Path, source: str = "config") -> TrainingSetup:
    """Load and check the lookup table and the corpus for ``config``.

    Parameters
    ----------
    config : TrainConfig
    workspace : Path
        Workspace root.
    source : str
        Name of the config (file), used in messages.

    Raises
    ------
    NotFoundError
        Missing synth, lookup table or corpus tables; the message gives the command that creates them.
    MismatchError
        The corpus was analyzed with other settings than the lookup, or the lookup is not the grid
        the config expects.
    ConfigError
        Held-out files that do not exist, nothing left to train on, bad reward weights.
    """
    from rlimpro.corpus import read_corpus
    from rlimpro.errors import ParameterError

    if config.task != "imitate":
        raise ConfigError(
            f"{source}: [task] is {config.task}: build it with rlimpro.tasks.setup.prepare_task "
            f"(gymnasium id rlimpro/{config.task.capitalize()}-v0)"
        )
    workspace = Path(workspace)
    lookup_path, frame, lookup_meta = _read_lookup(config, workspace=workspace, source=source)
    grid = grid_from_table(frame, lookup_meta, interpolation=config.interpolation, source=str(lookup_path))
    try:
        tables, corpus_meta = read_corpus(corpus=config.corpus, workspace=workspace)
    except NotFoundError as exc:
        raise NotFoundError(f"{source}: {exc}") from exc
    features_json = workspace / "corpora" / config.corpus / "features" / "analysis.json"
    check_same_analysis(lookup_meta, corpus_meta, a_name=str(lookup_path), b_name=str(features_json))
    try:
        feature_space = FeatureSpace.from_lookup(
            grid.values,
            features=config.features,
            features_reward=config.reward_features,
            n_params=grid.n_params,
            reward_weights=config.reward_weights,
            units=config.distance_units,
            error=config.observe_error,
            goal=config.observe_goal,
            source=source,
        )
    except ParameterError as exc:
        raise ConfigError(str(exc)) from exc

    frames: dict[str, np.ndarray] = {}
    times: dict[str, np.ndarray] = {}
    warnings: list[str] = []
    cols = list(DESCRIPTORS)
    for stem, table in tables.items():
        keep = table["active"].to_numpy() > 0 if config.active_only else np.ones(len(table), dtype=bool)
        frames[stem] = table[cols].to_numpy(np.float64)[keep]
        times[stem] = table["time"].to_numpy(np.float64)[keep]
        if not keep.any():
            warnings.append(f"corpus file '{stem}' has no active frames; it is not used")
    train, held = held_out_split([s for s in tables], config, source=source)
    usable = [f for f in train if len(frames[f])]
    if config.training_mode in ("corpus", "mixed_random+corpus") and not usable:
        raise ConfigError(f"{source}: none of the training files of corpus '{config.corpus}' has active frames")
    defaults = np.array([float(p.get("default", 0.5)) for p in lookup_meta.get("params", [])] or [0.5] * grid.n_params)
    if defaults.shape != (grid.n_params,):
        defaults = np.full(grid.n_params, 0.5)
    return TrainingSetup(
        config=config,
        source=source,
        lookup_path=lookup_path,
        lookup_meta=lookup_meta,
        grid=grid,
        feature_space=feature_space,
        frames=frames,
        times=times,
        corpus_meta=corpus_meta,
        train_files=train,
        held_out_files=held,
        default_params=defaults,
        warnings=warnings,
    )


def make_env(
    *, config: str | Path | None = None, workspace: str | Path = ".", split: str = "train", **settings: Any
) -> ImprovisationEnv:
    """Gymnasium entry point of ``rlimpro/Improvisation-v0``.

    Parameters
    ----------
    config : path, optional
        A training config YAML; ``settings`` override its keys.
    workspace : path
        Workspace root holding the lookup table and corpus tables.
    split : {"train", "eval"}
        Training environment or held-out evaluation environment.
    **settings
        Config keys (``synth``, ``corpus``, ``features``, ``action_type`` ...) when no file is given,
        or overrides of the file's keys.

    Raises
    ------
    ConfigError, NotFoundError, MismatchError
    """
    if config is not None:
        cfg = load_config(Path(config), overrides=settings)
        source = str(config)
    else:
        cfg = validate(TrainConfig, settings, source="gymnasium.make kwargs")
        source = "gymnasium.make kwargs"
    setup = prepare(cfg, workspace=Path(workspace), source=source)
    return setup.make_env(split=split)
