"""Cross-adaptive processing: an agent shapes one musician's sound by another's.

The agent controls an effect chain (:mod:`rlimpro.effects`) on musician A's signal (the *source*) so
that the processed signal's descriptors follow musician B's (the *target*). Modules, one job each:
:mod:`~rlimpro.crossadaptive.material` (source/target pairs: generated or from two corpora),
:mod:`~rlimpro.crossadaptive.paired` (both streams analyzed on one clock),
:mod:`~rlimpro.crossadaptive.features` (observation layout and z statistics),
:mod:`~rlimpro.crossadaptive.env` (the gymnasium env), :mod:`~rlimpro.crossadaptive.config` (the
``task: cross-adaptive`` schema), :mod:`~rlimpro.crossadaptive.setup` (config -> envs),
:mod:`~rlimpro.crossadaptive.runs`, :mod:`~rlimpro.crossadaptive.train`,
:mod:`~rlimpro.crossadaptive.evaluate` and :mod:`~rlimpro.crossadaptive.live` (the stages).

    import gymnasium
    import rlimpro.crossadaptive  # registers the id
    env = gymnasium.make("rlimpro/CrossAdaptive-v0")            # generated noise -> beat/swell/melody pairs
"""

from __future__ import annotations

import gymnasium

ENV_ID = "rlimpro/CrossAdaptive-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="rlimpro.crossadaptive.setup:make_env")

__all__ = ["ENV_ID"]
