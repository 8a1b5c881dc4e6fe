"""From a cross-adaptive config and a workspace to environments: material, split, statistics, envs.

:func:`prepare` generates (or reads) the source/target pairs, splits them into training and held-out
pairs, analyzes both streams of every pair, computes the z statistics on the training pairs and returns
a :class:`CrossSetup` that builds training and evaluation environments. :func:`make_env` is the
gymnasium entry point of ``rlimpro/CrossAdaptive-v0``::

    import gymnasium, rlimpro.crossadaptive
    env = gymnasium.make("rlimpro/CrossAdaptive-v0")                                  # generated material
    env = gymnasium.make("rlimpro/CrossAdaptive-v0", config="configs/cross-adaptive.yaml")
    env = gymnasium.make("rlimpro/CrossAdaptive-v0", effects=["bandpass", "gain"], action_type="continuous")
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from rlimpro.crossadaptive.config import (
    CorporaMaterial,
    CrossAdaptiveConfig,
    GeneratedMaterial,
    load_cross_config,
)
from rlimpro.crossadaptive.env import AnalyzedPair, CrossAdaptiveEnv
from rlimpro.crossadaptive.features import CrossFeatures, material_statistics
from rlimpro.crossadaptive.material import Pair, generated_pairs, read_pair
from rlimpro.crossadaptive.paired import shared_analyzer
from rlimpro.env.rewards import Reward
from rlimpro.errors import ConfigError, NotFoundError, ParameterError


@dataclasses.dataclass
class CrossSetup:
    """Everything loaded and checked for one cross-adaptive config.

    Attributes
    ----------
    config : CrossAdaptiveConfig
    source : str
        The config file (for messages).
    pairs : dict of str to AnalyzedPair
        Every pair, analyzed.
    train_pairs, held_out_pairs : list of str
    features : CrossFeatures
    chain : EffectChain
        A chain of the config (parameter names, defaults).
    warnings : list of str
    """

    config: CrossAdaptiveConfig
    source: str
    pairs: dict[str, AnalyzedPair]
    train_pairs: list[str]
    held_out_pairs: list[str]
    features: CrossFeatures
    chain: Any
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def held_out_files(self) -> list[str]:
        """The held-out pairs (the name the training loop's evaluation callback reads)."""
        return self.held_out_pairs

    @property
    def feature_space(self):
        """The underlying :class:`~rlimpro.env.features.FeatureSpace`."""
        return self.features.feature_space

    def reward(self) -> Reward:
        """The config's reward function."""
        c = self.config
        return Reward(c.reward_type, scale=c.reward_scale, prize_threshold=c.prize_threshold, prize=c.prize)

    def make_env(self, *, split: str = "train", pairs: list[str] | None = None, **overrides: Any) -> CrossAdaptiveEnv:
        """A new environment.

        Parameters
        ----------
        split : {"train", "eval"}
            ``train``: random stretches of the training pairs, random starting parameters.
            ``eval``: the held-out pairs played whole in turn from the chain's defaults.
        pairs : list of str, optional
            Pair names (default: the split's).
        **overrides
            Keyword arguments of :class:`CrossAdaptiveEnv` to replace.
        """
        c = self.config
        if pairs is None:
            pairs = self.train_pairs if split == "train" else self.held_out_pairs
        kwargs: dict[str, Any] = dict(
            pairs={p: self.pairs[p] for p in pairs},
            chain_spec=c.effects,
            features=self.features,
            settings=c.analysis_settings(),
            ramp=c.ramp,
            action_type=c.action_type,
            step_size=c.step_size,
            reward=self.reward(),
            max_episode_steps=c.max_episode_steps if split == "train" else None,
            order="random" if split == "train" else "cycle",
            start="random" if split == "train" else "default",
        )
        kwargs.update(overrides)
        return CrossAdaptiveEnv(**kwargs)


def _corpus_files(corpus: str, *, workspace: Path, source: str, key: str) -> dict[str, Path]:
    from rlimpro.audiofile import supported_extensions
    from rlimpro.corpus import audio_dir, corpus_names
    from rlimpro.workspace import did_you_mean

    folder = audio_dir(corpus, workspace=workspace)
    if not folder.is_dir():
        known = corpus_names(workspace=workspace)
        raise NotFoundError(
            f"{source}: [material.{key}] corpus '{corpus}' not found: {folder} does not exist"
            f"{did_you_mean(corpus, known)}; put its recordings in that folder"
        )
    exts = set(supported_extensions())
    files = {p.stem: p for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in exts}
    if not files:
        raise NotFoundError(f"{source}: [material.{key}] corpus '{corpus}' has no audio files in {folder}")
    return files


def load_material(config: CrossAdaptiveConfig, *, workspace: Path, source: str) -> tuple[list[Pair], list[str], list[str]]:
    """The config's pairs, the held-out pair names and warnings.

    Raises
    ------
    NotFoundError
        A corpus or file is missing.
    ConfigError
        Named pairs or held-out pairs that do not exist, nothing left to train on.
    MismatchError, AudioError
        A source shorter than its target, an unreadable file (names the files).
    """
    m = config.material
    sr = config.analysis.sample_rate
    warnings: list[str] = []
    if isinstance(m, GeneratedMaterial):
        pairs = generated_pairs(sources=list(m.sources), targets=list(m.targets), pairs=m.pairs,
                                duration=m.duration, seed=m.seed, sample_rate=sr)
        return pairs, [p.name for p in pairs[m.pairs - m.held_out :]], warnings
    assert isinstance(m, CorporaMaterial)
    from rlimpro.workspace import did_you_mean

    src = _corpus_files(m.source_corpus, workspace=workspace, source=source, key="source_corpus")
    tgt = _corpus_files(m.target_corpus, workspace=workspace, source=source, key="target_corpus")
    if m.pairs is not None:
        chosen = list(m.pairs)
        for i, (s, t) in enumerate(chosen):
            for stem, files, key in ((s, src, "source_corpus"), (t, tgt, "target_corpus")):
                if stem not in files:
                    corpus = getattr(m, key)
                    raise ConfigError(f"{source}: [material.pairs.{i}] '{stem}' is not a file of corpus '{corpus}'"
                                      f"{did_you_mean(stem, list(files))} (files: {', '.join(files)})")
    else:
        chosen = list(zip(sorted(src), sorted(tgt), strict=False))
        if len(src) != len(tgt):
            warnings.append(f"corpora '{m.source_corpus}' ({len(src)} files) and '{m.target_corpus}' ({len(tgt)} files) "
                            f"differ in size; pairing the first {len(chosen)} of each in name order")
    pairs = [read_pair(source=src[s], target=tgt[t], sample_rate=sr, name=f"{s}+{t}") for s, t in chosen]
    names = [p.name for p in pairs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{source}: [material.pairs] lists a pair twice")
    if m.held_out_pairs is not None:
        for name in m.held_out_pairs:
            if name not in names:
                raise ConfigError(f"{source}: [material.held_out_pairs] '{name}' is not a pair{did_you_mean(name, names)} "
                                  f"(pairs: {', '.join(names)}; a pair is named SOURCE+TARGET)")
        held = [n for n in names if n in m.held_out_pairs]
    else:
        fraction = 0.25 if m.held_out_fraction is None else m.held_out_fraction
        k = min(max(math.ceil(fraction * len(names)), 1), len(names) - 1) if fraction > 0 and len(names) > 1 else 0
        held = names[len(names) - k :] if k else []
    if len(held) == len(names):
        raise ConfigError(f"{source}: [material.held_out_pairs] holds out every pair; keep one for training")
    return pairs, held, warnings


def prepare(config: CrossAdaptiveConfig, *, workspace: Path, source: str = "config") -> CrossSetup:
    """Generate or read the material of ``config``, analyze it and build the feature space.

    Raises
    ------
    NotFoundError, ConfigError, MismatchError, AudioError
    """
    from rlimpro.descriptors.scaling import z_scale
    from rlimpro.effects.chain import EffectChain
    from rlimpro.env.features import FeatureSpace

    settings = config.analysis_settings()
    analyzer = shared_analyzer(settings)
    pairs, held, warnings = load_material(config, workspace=Path(workspace), source=source)
    chain = EffectChain.from_spec(config.effects, sample_rate=settings.sample_rate, ramp=config.ramp)
    analyzed = {p.name: AnalyzedPair(p, analyzer) for p in pairs}
    train = [p.name for p in pairs if p.name not in held]
    mean, std = material_statistics(
        [p for p in pairs if p.name in train], chain_spec=config.effects, ramp=config.ramp, analyzer=analyzer,
        seed=config.seed or 0, frames={k: (v.dry, v.target) for k, v in analyzed.items()},
    )
    try:
        space = FeatureSpace(features=config.features, features_reward=config.reward_features, mean=mean,
                             std=z_scale(mean, std),
                             n_params=chain.n_params, reward_weights=config.reward_weights, source=source)
    except ParameterError as exc:
        raise ConfigError(str(exc)) from exc
    return CrossSetup(config=config, source=source, pairs=analyzed, train_pairs=train, held_out_pairs=held,
                      features=CrossFeatures(space), chain=chain, warnings=warnings)


#: Small generated material for ``gymnasium.make`` without a config (quick to build).
QUICK_MATERIAL = {"kind": "generated", "pairs": 4, "held_out": 1, "duration": 2.0}


def make_env(*, config: str | Path | None = None, workspace: str | Path = ".", split: str = "train", **settings: Any) -> CrossAdaptiveEnv:
    """Gymnasium entry point of ``rlimpro/CrossAdaptive-v0``.

    Parameters
    ----------
    config : path, optional
        A ``task: cross-adaptive`` config; ``settings`` override its keys.
    workspace : path
        Workspace root (for corpus material).
    split : {"train", "eval"}
    **settings
        Config keys (``material``, ``effects``, ``features``, ``action_type`` ...); without a config
        file, small generated material (:data:`QUICK_MATERIAL`) unless ``material`` is given.

    Raises
    ------
    ConfigError, NotFoundError, MismatchError
    """
    from rlimpro.config import validate

    if config is not None:
        cfg = load_cross_config(Path(config), overrides=settings)
        source = str(config)
    else:
        cfg = validate(CrossAdaptiveConfig, {"task": "cross-adaptive", "material": QUICK_MATERIAL, **settings},
                       source="gymnasium.make kwargs")
        source = "gymnasium.make kwargs"
    return prepare(cfg, workspace=Path(workspace), source=source).make_env(split=split)
