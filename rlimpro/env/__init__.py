"""The learning environment: a gymnasium env registered as ``rlimpro/Improvisation-v0``.

Modules, one job each: :mod:`~rlimpro.env.features` (observation and reward features, z-scoring),
:mod:`~rlimpro.env.synth_model` (parameters -> descriptors by indexing the lookup grid),
:mod:`~rlimpro.env.targets` (training modes), :mod:`~rlimpro.env.rewards` (reward types),
:mod:`~rlimpro.env.actions` (action spaces), :mod:`~rlimpro.env.improvisation` (the env) and
:mod:`~rlimpro.env.factory` (configs and workspaces -> envs; the gymnasium entry point).

Usable without the CLI::

    import gymnasium
    import rlimpro.env  # registers the id
    env = gymnasium.make("rlimpro/Improvisation-v0", config="configs/fm.yaml", workspace=".")
"""

from __future__ import annotations

import gymnasium

from rlimpro.env.actions import ACTION_TYPES, ActionMap
from rlimpro.env.features import FeatureSpace
from rlimpro.env.improvisation import ImprovisationEnv
from rlimpro.env.rewards import REWARDS, Reward
from rlimpro.env.synth_model import INTERPOLATIONS, LookupGrid, grid_from_table, nearest_by_scan
from rlimpro.env.targets import TRAINING_MODES, TargetSource

ENV_ID = "rlimpro/Improvisation-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="rlimpro.env.factory:make_env")

__all__ = [
    "ACTION_TYPES",
    "ENV_ID",
    "INTERPOLATIONS",
    "REWARDS",
    "TRAINING_MODES",
    "ActionMap",
    "FeatureSpace",
    "ImprovisationEnv",
    "LookupGrid",
    "Reward",
    "TargetSource",
    "grid_from_table",
    "nearest_by_scan",
]
