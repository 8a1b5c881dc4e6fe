"""Sound tasks with audio rendered in the loop: ``match`` and ``sequence`` (gymnasium environments).

Where the imitation task (:mod:`rlimpro.env`) reads a precomputed lookup table, these tasks render
every step with the synth engine (native, or Pure Data through its batch renderer):

- ``rlimpro/Match-v0`` (:mod:`~rlimpro.tasks.match`): refine the parameters step by step until the
  synth's sound matches a target sound (synth-match's task);
- ``rlimpro/Sequence-v0`` (:mod:`~rlimpro.tasks.sequence`): set the parameters of each segment of a
  target phrase in turn (RaveForce's task).

Modules, one job each: :mod:`~rlimpro.tasks.specs` (lin / exp / choice / rel / fixed action specs),
:mod:`~rlimpro.tasks.actions` (action spaces), :mod:`~rlimpro.tasks.targets` (target sounds),
:mod:`~rlimpro.tasks.listener` (descriptors, images, distances), :mod:`~rlimpro.tasks.spectral`
(multi-scale spectral distance), :mod:`~rlimpro.tasks.melimage` (log-mel images),
:mod:`~rlimpro.tasks.extractor` (CNN feature extractor), :mod:`~rlimpro.tasks.optimizers` (random
search, CMA-ES), :mod:`~rlimpro.tasks.settings` (config sections), :mod:`~rlimpro.tasks.setup`
(configs -> environments) and :mod:`~rlimpro.tasks.evaluation` (held-out evaluation).
"""

from __future__ import annotations

import gymnasium

MATCH_ID = "rlimpro/Match-v0"
SEQUENCE_ID = "rlimpro/Sequence-v0"

if MATCH_ID not in gymnasium.registry:
    gymnasium.register(id=MATCH_ID, entry_point="rlimpro.tasks.setup:make_match_env")
if SEQUENCE_ID not in gymnasium.registry:
    gymnasium.register(id=SEQUENCE_ID, entry_point="rlimpro.tasks.setup:make_sequence_env")

__all__ = ["MATCH_ID", "SEQUENCE_ID"]
